"""The inference wrapper: everything ``TempoNet.forward`` deliberately does not do.

It validates anchors and times, converts uint8 images (numpy / PIL) to tensors and back, runs the
learned network on large frames at half size (:mod:`tempo_core.processing_scale`), pads any
``H x W`` to the network's multiple of 32 (replicate padding) and crops back, chooses the device
(CUDA, then MPS, then CPU) and precision (fp32, or bf16 / fp16 autocast), runs under
``torch.inference_mode``, encodes anchors once for many target times, and tiles frames that do not
fit in memory (overlapping tiles blended with linear ramps; an out-of-memory error retries with
smaller tiles before it is reported).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from tempo_core.checkpoint import load_model
from tempo_core.compiled_synthesis import CompiledSynthesis
from tempo_core.cpu_memory import keep_freed_memory
from tempo_core.errors import Cancelled, InputError, ModelError
from tempo_core.network import REQUIRED_MULTIPLE, AnchorMotion, EncodedObservations, TempoNet
from tempo_core.processing_scale import (
    HALF_SIZE_MULTIPLE,
    choose_scale,
    halve,
    prior_view,
    synthesize_at_half_size,
)
from tempo_core.shared_motion import SharedMotion
from tempo_core.tiling import tile_windows

PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
MAX_EXTRAPOLATION_SPANS = 2.0  # a target may lie at most this many anchor spans outside them
OOM_TILE_SIZES = (512, 256)


@dataclass
class Synthesis:
    """A synthesized frame: ``image`` uint8 ``[H, W, 3]``, ``confidence`` float32 ``[H, W]`` in [0, 1];
    ``rgb`` float32 ``[H, W, 3]`` in [0, 1] is the image before rounding (for 10-bit outputs)."""

    image: np.ndarray
    confidence: np.ndarray
    time: float
    rgb: np.ndarray | None = None


@dataclass
class EncodedAnchors:
    """Anchors ready for synthesis. ``encoded`` is None when frames are synthesized in tiles of
    ``tile`` pixels a side (None: whole frames). At half size (:mod:`tempo_core.processing_scale`)
    ``full_frames`` holds the anchors at full size, padded to multiples of 64, ``frames`` the same
    halved, and ``full_size`` (whole frames) what the motion prior reads (:func:`prior_view`)."""

    frames: torch.Tensor  # (1, N, 3, Hp, Wp) padded, on the device
    timestamps: torch.Tensor  # (1, N) float64
    height: int
    width: int
    encoded: EncodedObservations | None
    tile: int | None = None
    full_frames: torch.Tensor | None = None  # (1, N, 3, 2 Hp, 2 Wp)
    full_size: EncodedObservations | None = None


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``None``/"auto" -> CUDA if present, else MPS, else CPU; otherwise the named device."""
    if device is None or str(device) == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise InputError("CUDA was requested but no CUDA GPU is available; use --device cpu.")
    return resolved


def device_description(device: torch.device) -> str:
    """A human name for a device: the GPU's name, or "CPU"."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return "Apple GPU (MPS)" if device.type == "mps" else "CPU"


def image_to_tensor(image) -> torch.Tensor:
    """uint8 ``[H, W]``, ``[H, W, 3|4]`` numpy array or PIL image -> float ``[3, H, W]`` in [0, 1]."""
    if hasattr(image, "convert"):  # PIL
        image = np.asarray(image.convert("RGB"))
    array = np.asarray(image)
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise InputError(f"A frame must be an RGB image; got an array of shape {array.shape}.")
    if array.dtype == np.uint16:
        scaled = array[:, :, :3].astype(np.float32) / 65535.0
    elif array.dtype == np.uint8:
        scaled = array[:, :, :3].astype(np.float32) / 255.0
    else:
        scaled = np.clip(array[:, :, :3].astype(np.float32), 0.0, 1.0)
    return torch.from_numpy(np.ascontiguousarray(scaled)).permute(2, 0, 1)


def tensor_to_image(rgb: torch.Tensor) -> np.ndarray:
    """float ``[3, H, W]`` in [0, 1] -> uint8 ``[H, W, 3]`` (rounded)."""
    return (rgb.float().clamp(0, 1) * 255.0).round().byte().permute(1, 2, 0).cpu().numpy()


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


def pad_to_multiple(frames: torch.Tensor, multiple: int = REQUIRED_MULTIPLE) -> torch.Tensor:
    """``[..., H, W]`` -> replicate-padded to multiples of ``multiple`` (bottom / right)."""
    height, width = frames.shape[-2:]
    pad_h, pad_w = (-height) % multiple, (-width) % multiple
    if not pad_h and not pad_w:
        return frames
    flat = frames.reshape(-1, *frames.shape[-3:])
    padded = F.pad(flat, (0, pad_w, 0, pad_h), mode="replicate")
    return padded.reshape(*frames.shape[:-2], height + pad_h, width + pad_w)


class Interpolator:
    """Runs a :class:`TempoNet` on real images.

    Args:
        model: the network (moved to ``device``, put in eval mode).
        device: see :func:`resolve_device`.
        precision: "fp32", "bf16" or "fp16" (autocast; fp16 only on CUDA / MPS).
        tile: synthesize in tiles of at most this many pixels a side (None: whole frames).
        tile_overlap: pixels shared by neighbouring tiles.
        batch_size: target times synthesized together.
        compiled: run whole-frame syntheses as one compiled graph per frame size
            (:class:`CompiledSynthesis`; None: on CUDA only, where it removes the launch overhead
            of thousands of small operations; on a CPU compiling gains little and costs seconds).
        scale: the processing scale (:func:`~tempo_core.processing_scale.choose_scale`): "auto"
            (the network at half size on frames over 0.6 MP on a CPU), 1 or 0.5.
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
        if precision not in PRECISIONS:
            raise InputError(f"Unknown precision {precision!r}; choose fp32, bf16 or fp16.")
        choose_scale(64, 64, scale)  # an unknown setting is refused now, not at the first frame
        self.scale = scale
        self.device = resolve_device(device)
        if precision == "fp16" and self.device.type == "cpu":
            raise InputError("fp16 needs a GPU; on the CPU use fp32 or bf16.")
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

    def _autocast(self):
        if self.precision == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=PRECISIONS[self.precision])

    def encode(self, frames: Sequence, timestamps: Sequence[float], tile: int | None = None) -> EncodedAnchors:
        """Encode anchor images (uint8 arrays or PIL images, all the same size) once. ``tile``:
        synthesize these anchors in tiles of that many pixels a side (None: ``self.tile``)."""
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
        frames = frames.to(self.device)
        full_frames = None
        if choose_scale(height, width, self.scale, self.device.type) == 0.5:
            full_frames = pad_to_multiple(frames, HALF_SIZE_MULTIPLE)
            padded = halve(full_frames)
        else:
            padded = pad_to_multiple(frames)
        timestamps = timestamps.to(self.device)
        tile = self.tile if tile is None else int(tile)
        encoded = full_size = None
        if not self._needs_tiles(padded, tile):
            with torch.inference_mode(), self._autocast():
                encoded = self.model.encode(padded, timestamps)
                full_size = prior_view(encoded, full_frames) if full_frames is not None else None
        tile = tile if encoded is None else None
        return EncodedAnchors(padded, timestamps, height, width, encoded, tile, full_frames, full_size)

    def _needs_tiles(self, padded: torch.Tensor, tile: int | None) -> bool:
        return tile is not None and max(padded.shape[-2:]) > tile

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
        check_times(anchors.timestamps[0].tolist(), target_times)
        check = cancel_check(should_cancel)
        shared = None  # many targets between the same anchors: the motion search once per gap
        if len(target_times) > 1 and anchors.encoded is not None:
            prior_reads = anchors.full_size or anchors.encoded  # at half size: the full-size frames
            shared = SharedMotion(self.model, prior_reads, anchors.timestamps[0].tolist())
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
        with torch.inference_mode(), self._autocast():
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
    ):
        """Synthesize; after an out-of-memory error retry with smaller tiles, then say so plainly."""
        tile = anchors.tile if anchors.encoded is None else None
        for attempt in (tile, *(t for t in OOM_TILE_SIZES if tile is None or t < tile)):
            try:
                return self._synthesize_batch(anchors, times, attempt, check, shared if attempt is None else None)
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
    ):
        target = torch.tensor(times, dtype=torch.float64, device=self.device)
        with torch.inference_mode(), self._autocast():
            if tile is None:
                motion = shared.for_times(times, check) if shared is not None else None
                rgb, confidence = self._synthesize_window(
                    anchors.encoded, anchors.full_size, target, check, motion, compiled=True
                )
                check()  # the compiled graph runs in one piece: asked before and after it
                return rgb.float(), confidence.float()
            return self._synthesize_tiled(anchors, target, tile, check)

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
        ``target`` ``[B]``; at half size ``full_size`` is their :func:`prior_view` (H, W are then
        its size). ``compiled``: through the compiled graph when the interpolator has one."""
        count = target.shape[0]

        def run(encoded: EncodedObservations, target: torch.Tensor, check, motion):
            result = self.compiled(encoded, target, motion) if compiled and self.compiled is not None else None
            return result if result is not None else self.model.synthesize(encoded, target, check, motion)

        if full_size is not None:
            return synthesize_at_half_size(
                self.model, expand_batch(encoded, count), expand_batch(full_size, count), target, check, motion, run
            )
        rgb, aux = run(expand_batch(encoded, count), target, check, motion)
        return rgb, aux["confidence"]

    def _synthesize_tiled(self, anchors: EncodedAnchors, target: torch.Tensor, tile: int, check: Callable[[], None]):
        """Whole frames made tile by tile (each encoded on its own), blended with ramps across the
        overlaps; at half size the tiles are cut from the full-size frames (twice the tile)."""
        halved = anchors.full_frames is not None
        frames = anchors.full_frames if halved else anchors.frames
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


def expand_batch(encoded: EncodedObservations, count: int) -> EncodedObservations:
    """Repeat a batch-1 encoding ``count`` times without copying (for many target times)."""
    if count == 1:
        return encoded

    def grow(tensor: torch.Tensor) -> torch.Tensor:
        return tensor.expand(count, *tensor.shape[1:])

    return EncodedObservations(
        frames=grow(encoded.frames),
        features=[grow(f) for f in encoded.features],
        keys=[grow(k) for k in encoded.keys],
        image_pyramid=[grow(level) for level in encoded.image_pyramid],
        anchor_times=grow(encoded.anchor_times),
        center=grow(encoded.center),
        span=grow(encoded.span),
        attention_inputs=None
        if encoded.attention_inputs is None
        else [dataclasses.replace(p, values=grow(p.values), context=grow(p.context)) for p in encoded.attention_inputs],
        refine_input=None if encoded.refine_input is None else grow(encoded.refine_input),
    )
