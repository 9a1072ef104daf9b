"""The one thread that owns the model: loads it, synthesizes frames, runs exports.

The UI thread never waits on the model. It puts work in and gets typed signals back
(a :class:`~tempo_app.workers.latest_wins.LatestWinsThread`):

* :meth:`ModelWorker.load_model` and :meth:`ModelWorker.submit` queue jobs that run in order.
* :meth:`ModelWorker.request` is *latest wins*: a new request replaces the one still waiting, and a
  request that is superseded while its anchors are read or encoded is dropped before the decode.
* Every exception is caught and becomes an ``error`` / ``model_failed`` signal with one sentence.

The encoded anchors of the last request are kept, so scrubbing between the same anchors costs
only a decode (TEMPO's "encode once, synthesize many").

On a GPU the first synthesis of every frame size compiles the synthesis graph (tens of seconds,
:mod:`tempo_core.inference.compiled`): ``gpu_note`` says so while it happens (a lasting status
line), then that the GPU is ready or, if compiling failed, that frames are made eagerly from now
on (once).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, Signal

from tempo_app.errors import is_out_of_memory, user_message
from tempo_app.images import resize_rgb, scaled_size
from tempo_app.state.model_state import ModelInfo, ModelSpec
from tempo_app.workers.foreground import FOREGROUND
from tempo_app.workers.latest_wins import LatestWinsThread
from tempo_core.errors import Cancelled, InputError

if TYPE_CHECKING:  # keeps start-up light: these load torch and PyAV
    from tempo_core.inference import EncodedAnchors, Interpolator
    from tempo_core.video.reader import VideoReader

log = logging.getLogger("tempo_app")

NO_MODEL = "No model is loaded; load a checkpoint from the Model menu."
COMPILE_FAILED = "The GPU could not compile TEMPO's graph; frames are made the plain way from now on, more slowly."

InterpolatorFactory = Callable[[ModelSpec], "Interpolator"]
Task = Callable[["Interpolator | None"], None]


def default_factory(spec: ModelSpec) -> Interpolator:
    """Load ``spec`` with :meth:`tempo_core.inference.Interpolator.from_checkpoint`."""
    from tempo_core.inference import Interpolator

    return Interpolator.from_checkpoint(
        spec.path, device=spec.device, precision=spec.precision, tile=spec.tile, scale=spec.scale
    )


@dataclass(frozen=True)
class SynthesisRequest:
    """Synthesize ``time`` (seconds) of ``clip_path`` from the real frames ``anchors``.

    ``max_side`` None is full resolution; a number makes a preview whose longer side is at most
    that many pixels.
    """

    request_id: int
    clip_path: str
    time: float
    anchors: tuple[int, ...]
    max_side: int | None = None

    @property
    def key(self) -> tuple:
        return (self.clip_path, round(self.time, 9), self.anchors, self.max_side)


@dataclass
class SynthesisResult:
    request: SynthesisRequest
    image: np.ndarray  # (H, W, 3) uint8 RGB
    confidence: np.ndarray  # (H, W) float32 in [0, 1]
    ms: float
    model_generation: int


class _Superseded(Exception):
    """A newer request arrived; drop this one quietly."""


class ModelWorker(LatestWinsThread[SynthesisRequest]):
    """Owns the interpolator and a private VideoReader; see the module docstring."""

    model_loaded = Signal(object)  # ModelInfo
    model_failed = Signal(str, bool)  # message, happened at start-up
    result = Signal(object)  # SynthesisResult
    failed = Signal(int, str, bool)  # request_id, message, caused by the request's arguments
    request_finished = Signal(int)  # request_id, after result, error or drop
    gpu_note = Signal(str, bool)  # status text, lasting (kept until the next note): compiling for the GPU

    def __init__(self, factory: InterpolatorFactory | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self._factory = factory or default_factory
        self._interp: Interpolator | None = None
        self._generation = 0
        self._reader: VideoReader | None = None
        self._reader_path: str | None = None
        self._encoded_key: tuple | None = None
        self._encoded: EncodedAnchors | None = None

    # ------------------------------------------------------------ UI side
    def set_factory(self, factory: InterpolatorFactory) -> None:
        self._factory = factory

    def load_model(self, spec: ModelSpec, startup: bool = False) -> None:
        self.queue_job(partial(self._load, spec, startup))

    def change_processing(self, spec: ModelSpec) -> None:
        """Apply ``spec``'s tile and processing scale to the loaded interpolator, without reloading
        its weights (a full load when none is loaded); ``model_loaded`` then reports the new spec."""
        self.queue_job(partial(self._change_processing, spec))

    def submit(self, task: Task) -> None:
        """Run ``task(interpolator_or_None)`` on this thread after the queued work."""
        self.queue_job(partial(self._run_task, task))

    def request(self, request: SynthesisRequest | None) -> None:
        """Replace the waiting synthesis request (None just drops it)."""
        dropped = self.replace_request(request)
        if dropped is not None:
            self.request_finished.emit(dropped.request_id)

    def stop(self, timeout_ms: int = 30000) -> bool:
        """Stop after the current job (a synthesis stops between its stages); True when stopped."""
        self.request_stop()
        return self.wait(timeout_ms)

    # ---------------------------------------------------------- worker side
    def handle(self, request: SynthesisRequest) -> None:
        self._synthesize(request)

    def finish(self) -> None:
        self._close_reader()

    def _load(self, spec: ModelSpec, startup: bool) -> None:
        try:
            interp = self._factory(spec)
        except Exception as error:  # every failure becomes a sentence
            self.model_failed.emit(user_message(error, "Loading the model"), startup)
            return
        self._interp = interp
        self._generation += 1
        self._encoded_key = self._encoded = None
        self._announce(interp, spec)

    def _change_processing(self, spec: ModelSpec) -> None:
        interp = self._interp
        if interp is None or not hasattr(interp, "scale"):
            self._load(spec, startup=False)
            return
        interp.tile, interp.scale = spec.tile, spec.scale
        self._generation += 1  # frames made with the old settings are no longer this model's
        self._encoded_key = self._encoded = None  # anchors keep the strategy they were encoded with
        self._announce(interp, spec)

    def _announce(self, interp: Interpolator, spec: ModelSpec) -> None:
        name = getattr(interp, "name", None) or (Path(spec.path).name if spec.path else "default")
        device_name = str(getattr(interp, "device_name", None) or getattr(interp, "device", "cpu"))
        precision = str(getattr(interp, "precision", spec.precision))
        self.model_loaded.emit(ModelInfo(name, device_name, precision, self._generation, spec))

    def _run_task(self, task: Task) -> None:
        try:
            task(self._interp)
        except Exception as error:
            log.error("background task failed: %s", user_message(error, "A background task"))

    def _synthesize(self, request: SynthesisRequest) -> None:
        try:
            if self._interp is None:
                self.failed.emit(request.request_id, NO_MODEL, False)
                return
            started = time.perf_counter()
            with FOREGROUND.busy():  # the thumbnails and the cut scan pause meanwhile
                encoded = self._encode(request)
                if self.superseded():
                    raise _Superseded
                # a newer request (the user scrubbed on) stops this one between its stages
                with self._compile_notes(encoded):
                    synthesis = self._interp.synthesize(encoded, [request.time], should_cancel=self.superseded)[0]
            ms = (time.perf_counter() - started) * 1000.0
            image = np.ascontiguousarray(synthesis.image, dtype=np.uint8)
            confidence = np.asarray(synthesis.confidence, dtype=np.float32)
            self.result.emit(SynthesisResult(request, image, confidence, ms, self._generation))
        except (_Superseded, Cancelled):
            pass
        except Exception as error:
            if is_out_of_memory(error):
                self._free_gpu_memory()
            message = user_message(error, "Synthesizing the frame")
            self.failed.emit(request.request_id, message, isinstance(error, InputError))
        finally:
            self.request_finished.emit(request.request_id)

    @contextlib.contextmanager
    def _compile_notes(self, encoded: EncodedAnchors) -> Iterator[None]:
        """``gpu_note`` around a synthesis: "Preparing the GPU for WxH" when it compiles a new
        graph, then ready, or once the fall-back to the eager network when compiling failed."""
        compiled = getattr(self._interp, "compiled", None)
        if compiled is None:
            yield
            return
        size = f"{encoded.width}x{encoded.height}"
        compiling: list[bool] = []

        def preparing() -> None:
            compiling.append(True)
            self.gpu_note.emit(f"Preparing the GPU for {size}, first frame only...", True)

        failed_before = compiled.failed
        compiled.on_compile = preparing
        try:
            yield
        finally:
            compiled.on_compile = None
            if compiled.failed and not failed_before:
                self.gpu_note.emit(COMPILE_FAILED, False)
            elif compiling:
                self.gpu_note.emit(f"The GPU is ready for {size}.", False)

    def _encode(self, request: SynthesisRequest) -> EncodedAnchors:
        key = (self._generation, request.clip_path, request.anchors, request.max_side)
        if key == self._encoded_key:
            return self._encoded
        reader = self._open_reader(request.clip_path)
        frames, times = [], []
        for index in request.anchors:
            if self.superseded():
                raise _Superseded
            frames.append(reader.read_frame(index))
            times.append(float(reader.frame_times[index]))
        if request.max_side is not None:
            height, width = frames[0].shape[:2]
            width, height = scaled_size(width, height, request.max_side)
            frames = [resize_rgb(frame, width, height) for frame in frames]
        self._encoded_key, self._encoded = None, None  # free the old features first
        encoded = self._interp.encode(frames, times)
        self._encoded_key, self._encoded = key, encoded
        return encoded

    def _open_reader(self, path: str) -> VideoReader:
        if self._reader is None or self._reader_path != path:
            from tempo_core.video.reader import VideoReader

            self._close_reader()
            self._reader = VideoReader(path)
            self._reader_path = path
        return self._reader

    def _close_reader(self) -> None:
        if self._reader is not None:
            try:
                self._reader.close()
            except Exception:
                pass
        self._reader = None
        self._reader_path = None

    def _free_gpu_memory(self) -> None:
        self._encoded_key = self._encoded = None
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except Exception:
            pass
