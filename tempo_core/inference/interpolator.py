"""The inference wrapper: everything ``TempoNet.forward`` deliberately does not do.

It validates anchors and times, converts images to tensors and back (:mod:`.images`), chooses the
device and precision (:mod:`.device`), pads any ``H x W`` to the network's multiple and crops
back, runs under ``torch.inference_mode``, encodes anchors once for many target times with one of
three strategies (:mod:`.anchors`: whole frame, half size for large frames, tiles), shares the
motion search between targets of one anchor gap (:mod:`.shared_motion`), runs whole frames
through a compiled graph where that pays (:mod:`.compiled`), and after an out-of-memory error
retries with smaller tiles before it says so plainly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tempo_core.checkpoint import load_model
from tempo_core.cpu_memory import keep_freed_memory
from tempo_core.errors import Cancelled, InputError, ModelError
from tempo_core.inference.anchors import EncodedAnchors, HalfSize, Tiled, WholeFrame
from tempo_core.inference.compiled import CompiledSynthesis
from tempo_core.inference.device import autocast, check_precision, device_description, resolve_device
from tempo_core.inference.half_size import choose_scale
from tempo_core.inference.images import image_to_tensor, pad_to_multiple, tensor_to_image
from tempo_core.inference.settings import HALF_SIZE_MULTIPLE, MAX_EXTRAPOLATION_SPANS, OOM_TILE_SIZES
from tempo_core.inference.shared_motion import SharedMotion
from tempo_core.inference.tiling import tile_windows
from tempo_core.network import (
    REQUIRED_MULTIPLE,
    AnchorMotion,
    EncodedObservations,
    TempoNet,
    finish_half_size_synthesis,
    halve,
    halve_motion,
    prior_view,
)


@dataclass
class Synthesis:
    """A synthesized frame: ``image`` uint8 ``[H, W, 3]``, ``confidence`` float32 ``[H, W]`` in [0, 1];
    ``rgb`` float32 ``[H, W, 3]`` in [0, 1] is the image before rounding (for 10-bit outputs)."""

    image: np.ndarray
    confidence: np.ndarray
    time: float
    rgb: np.ndarray | None = None


def check_times(timestamps: Sequence[float], target_times: Sequence[float] = ()) -> None:
    """Refuse anchor / target times the network cannot use, with a plain sentence."""
    times = [float(t) for t in timestamps]
    if len(times) < 2:
        raise InputError(f"TEMPO needs at least 2 anchor frames; got {len(times)}.")
    if not all(math.isfinite(t) for t in [*times, *map(float, target_times)]):
        raise InputError("Anchor and target times must be finite numbers.")
    if len(set(times)) != len(times):
        raise InputError("Two anchor frames share the same timestamp; each anchor needs its own time.")
    low, high = min(times), max(times)
    limit = MAX_EXTRAPOLATION_SPANS * (high - low)
    for target in map(float, target_times):
        if target < low - limit or target > high + limit:
            raise InputError(
                f"Target time {target:g} is too far outside the anchors ({low:g} to {high:g}); "
                f"TEMPO extrapolates at most {MAX_EXTRAPOLATION_SPANS:g} anchor spans."
            )


class Interpolator:
    """Runs a :class:`TempoNet` on real images.

    Args:
        model: the network (moved to ``device``, put in eval mode).
        device: see :func:`~tempo_core.inference.device.resolve_device`.
        precision: "fp32", "bf16" or "fp16" (autocast; fp16 only on CUDA / MPS).
        tile: synthesize in tiles of at most this many pixels a side (None: whole frames).
        tile_overlap: pixels shared by neighbouring tiles.
        batch_size: target times synthesized together.
        compiled: run whole-frame syntheses as one compiled graph per frame size
            (:class:`CompiledSynthesis`; None: on CUDA only, where it removes the launch overhead
            of thousands of small operations; on a CPU compiling gains little and costs seconds).
        scale: the processing scale (:func:`~tempo_core.inference.half_size.choose_scale`): "auto"
            (the network at half size on frames over 0.6 MP on a CPU), 1 or 0.5.

    ``tile`` and ``scale`` may be changed between encodes (the app's menu does, without reloading
    the weights); anchors keep the strategy they were encoded with.
    """

    def __init__(
        self,
        model: TempoNet,
        device: str | torch.device | None = None,
        precision: str = "fp32",
        tile: int | None = None,
        tile_overlap: int = 32,
        batch_size: int | None = None,
        compiled: bool | None = None,
        scale: str | float = "auto",
    ) -> None:
        choose_scale(64, 64, scale)  # an unknown setting is refused now, not at the first frame
        self.scale = scale
        self.device = resolve_device(device)
        check_precision(precision, self.device)
        if self.device.type == "cpu":
            keep_freed_memory()  # a 720p synthesis spent a tenth to a fifth of its CPU time on fresh pages
        self.model = model.to(self.device).eval()
        self.precision = precision
        self.tile = tile
        self.tile_overlap = tile_overlap
        self.batch_size = batch_size or (4 if self.device.type == "cuda" else 1)
        use_graph = self.device.type == "cuda" if compiled is None else compiled
        self.compiled = CompiledSynthesis(self.model) if use_graph else None

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path | None = None,
        device: str | torch.device | None = None,
        precision: str = "fp32",
        **kwargs,
    ) -> Interpolator:
        """Load a safetensors model file (None: the bundled default model)."""
        return cls(load_model(path), device=device, precision=precision, **kwargs)

    @property
    def device_name(self) -> str:
        return device_description(self.device)

    def encode(self, frames: Sequence, timestamps: Sequence[float], tile: int | None = None) -> EncodedAnchors:
        """Encode anchor images (uint8 / uint16 arrays or PIL images, all the same size) once.
        ``tile``: synthesize these anchors in tiles of that many pixels a side (None: ``self.tile``)."""
        check_times(timestamps)
        tensors = [image_to_tensor(frame) for frame in frames]
        if len(tensors) != len(timestamps):
            raise InputError(f"Got {len(tensors)} frames but {len(timestamps)} timestamps.")
        sizes = {tuple(t.shape[-2:]) for t in tensors}
        if len(sizes) > 1:
            raise InputError(f"All anchor frames must have the same size; got {sorted(sizes)}.")
        stacked = torch.stack(tensors)[None]  # (1, N, 3, H, W)
        times = torch.tensor([list(map(float, timestamps))], dtype=torch.float64)
        return self.encode_tensors(stacked, times, tile)

    def encode_tensors(self, frames: torch.Tensor, timestamps: torch.Tensor, tile: int | None = None) -> EncodedAnchors:
        """``frames [1, N, 3, H, W]`` float in [0, 1], ``timestamps [1, N]``; ``tile`` as in :meth:`encode`."""
        height, width = frames.shape[-2:]
        if min(height, width) < 1:
            raise InputError("Frames must be at least 1 x 1 pixels.")
        times = tuple(float(t) for t in timestamps[0].tolist())  # once here, never per synthesis
        halved = choose_scale(height, width, self.scale, self.device.type) == 0.5
        frames = pad_to_multiple(frames.to(self.device), HALF_SIZE_MULTIPLE if halved else REQUIRED_MULTIPLE)
        timestamps = timestamps.to(self.device)
        tile = self.tile if tile is None else int(tile)
        network_side = max(frames.shape[-2:]) // (2 if halved else 1)
        if tile is not None and network_side > tile:
            strategy = Tiled(tile, halved)
        else:
            with torch.inference_mode(), autocast(self.device, self.precision):
                if halved:
                    encoded = self.model.encode(halve(frames), timestamps)
                    strategy = HalfSize(encoded, prior_view(encoded, frames))
                else:
                    strategy = WholeFrame(self.model.encode(frames, timestamps))
        return EncodedAnchors(frames, timestamps, times, height, width, strategy)

    def synthesize(
        self,
        anchors: EncodedAnchors,
        target_times: Sequence[float],
        should_cancel: Callable[[], bool] | None = None,
    ) -> list[Synthesis]:
        """Synthesize each target time from encoded anchors; results in the order given.

        ``should_cancel`` (optional) is asked between the stages of every synthesis (the prior, each
        attention scale, the decoder, the pixel synthesis; on a CPU at 720p well under 2 s apart);
        when it answers True the synthesis stops with :class:`tempo_core.errors.Cancelled`.
        """
        check_times(anchors.times, target_times)
        check = cancel_check(should_cancel)
        shared = None  # many targets between the same anchors: the motion search once per gap
        if len(target_times) > 1 and not isinstance(anchors.strategy, Tiled):
            shared = SharedMotion(self.model, anchors.strategy.prior_reads, list(anchors.times))
        results = []
        for start in range(0, len(target_times), self.batch_size):
            chunk = [float(t) for t in target_times[start : start + self.batch_size]]
            check()
            rgb, confidence = self._synthesize_with_fallback(anchors, chunk, check, shared)
            for i, time in enumerate(chunk):
                exact = rgb[i, :, : anchors.height, : anchors.width].float().clamp(0, 1)
                image = tensor_to_image(exact)
                conf = confidence[i, 0, : anchors.height, : anchors.width].float().cpu().numpy()
                results.append(Synthesis(image, conf, time, exact.permute(1, 2, 0).cpu().numpy()))
        return results

    def interpolate(
        self,
        frames: Sequence,
        timestamps: Sequence[float],
        target_time: float,
        should_cancel: Callable[[], bool] | None = None,
    ) -> Synthesis:
        """One frame at ``target_time`` from anchor images (``should_cancel`` as in :meth:`synthesize`)."""
        return self.synthesize(self.encode(frames, timestamps), [target_time], should_cancel)[0]

    def run_tensors(
        self, frames: torch.Tensor, timestamps: torch.Tensor, target_time: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Tensor API, any H x W: ``[B, N, 3, H, W]``, ``[B, N]``, ``[B]`` -> (rgb, aux) cropped back.
        The whole network at the size given (no processing scale, no tiles)."""
        height, width = frames.shape[-2:]
        padded = pad_to_multiple(frames).to(self.device)
        with torch.inference_mode(), autocast(self.device, self.precision):
            rgb, aux = self.model(padded, timestamps.to(self.device), target_time.to(self.device))
        crop = (..., slice(0, height), slice(0, width))
        cropped = {k: v[crop].float() for k, v in aux.items() if torch.is_tensor(v) and v.dim() == 4}
        return rgb[crop].float(), cropped

    def _synthesize_with_fallback(
        self,
        anchors: EncodedAnchors,
        times: list[float],
        check: Callable[[], None],
        shared: SharedMotion | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Synthesize; after an out-of-memory error retry with smaller tiles, then say so plainly."""
        tile = anchors.strategy.tile if isinstance(anchors.strategy, Tiled) else None
        for attempt in (tile, *(t for t in OOM_TILE_SIZES if tile is None or t < tile)):
            try:
                return self._synthesize_batch(anchors, times, attempt, check, shared)
            except torch.OutOfMemoryError:
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
        raise ModelError(
            f"The {self.device_name} ran out of memory even with {OOM_TILE_SIZES[-1]}-pixel tiles; "
            "use the CPU or a smaller frame size."
        )

    def _synthesize_batch(
        self,
        anchors: EncodedAnchors,
        times: list[float],
        tile: int | None,
        check: Callable[[], None],
        shared: SharedMotion | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """rgb ``[B, 3, Hp, Wp]`` and confidence ``[B, 1, Hp, Wp]`` (float32) at ``times``, whole
        (``tile`` None: the anchors' own strategy) or in tiles of ``tile`` network pixels."""
        target = torch.tensor(times, dtype=torch.float64, device=self.device)
        with torch.inference_mode(), autocast(self.device, self.precision):
            if tile is None:
                strategy = anchors.strategy
                motion = shared.for_times(times, check) if shared is not None else None
                full_size = strategy.full_size if isinstance(strategy, HalfSize) else None
                rgb, confidence = self._synthesize_window(strategy.encoded, full_size, target, check, motion, True)
                check()  # the compiled graph runs in one piece: asked before and after it
                return rgb.float(), confidence.float()
            return self._synthesize_tiled(anchors, target, tile, check)

    def _run_network(
        self,
        encoded: EncodedObservations,
        target: torch.Tensor,
        check: Callable[[], None],
        motion: AnchorMotion | None,
        compiled: bool,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``model.synthesize``, through the compiled graph when asked and the interpolator has one."""
        result = self.compiled(encoded, target, motion) if compiled and self.compiled is not None else None
        return result if result is not None else self.model.synthesize(encoded, target, check, motion)

    def _synthesize_window(
        self,
        encoded: EncodedObservations,
        full_size: EncodedObservations | None,
        target: torch.Tensor,
        check: Callable[[], None],
        motion: AnchorMotion | None = None,
        compiled: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """rgb ``[B, 3, H, W]`` and confidence ``[B, 1, H, W]`` of batch-1 anchors ``encoded`` at
        ``target`` ``[B]``. At half size ``full_size`` is their ``prior_view`` (H, W are then its
        size): the prior searches it (unless ``motion`` is given), the network runs on ``encoded``
        with that motion halved, and the last look-ups read the full-size anchors."""
        count = target.shape[0]
        encoded = encoded.expand(count)
        if full_size is None:
            rgb, aux = self._run_network(encoded, target, check, motion, compiled)
            return rgb, aux["confidence"]
        full_size = full_size.expand(count)
        if motion is None:
            motion = self.model.anchor_motion(full_size, target, check)
            check()
        _, aux = self._run_network(encoded, target, check, halve_motion(motion), compiled)
        return finish_half_size_synthesis(encoded, full_size, target, motion, aux)

    def _synthesize_tiled(
        self, anchors: EncodedAnchors, target: torch.Tensor, tile: int, check: Callable[[], None]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Whole frames made tile by tile (each encoded on its own), blended with ramps across the
        overlaps; at half size the tiles are cut from the full-size frames (twice the tile)."""
        frames, halved = anchors.frames, anchors.halved
        factor = 2 if halved else 1
        height, width = frames.shape[-2:]
        count = target.shape[0]
        rgb_sum = frames.new_zeros(count, 3, height, width, dtype=torch.float32)
        conf_sum = frames.new_zeros(count, 1, height, width, dtype=torch.float32)
        weight_sum = frames.new_zeros(1, 1, height, width, dtype=torch.float32)
        windows = tile_windows(
            height, width, tile * factor, self.tile_overlap * factor, REQUIRED_MULTIPLE * factor, frames.device
        )
        for window, ramp in windows:
            crop = frames[..., window[0], window[1]]
            encoded = self.model.encode(halve(crop) if halved else crop, anchors.timestamps)
            full_size = prior_view(encoded, crop) if halved else None
            rgb, confidence = self._synthesize_window(encoded, full_size, target, check)
            rgb_sum[..., window[0], window[1]] += rgb.float() * ramp
            conf_sum[..., window[0], window[1]] += confidence.float() * ramp
            weight_sum[..., window[0], window[1]] += ramp
        return rgb_sum / weight_sum, conf_sum / weight_sum


def cancel_check(should_cancel: Callable[[], bool] | None) -> Callable[[], None]:
    """A function that raises :class:`Cancelled` when ``should_cancel()`` is true (never without one)."""

    def check() -> None:
        if should_cancel is not None and should_cancel():
            raise Cancelled()

    return check
