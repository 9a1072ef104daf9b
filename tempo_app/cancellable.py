"""The interpolator as an export sees it, stopping soon after the user cancels.

The export engine checks its cancel token between jobs; a job at 720p on a CPU takes seconds.
:class:`CancellableModel` adds checks around every encode and every target time, and hands the
token to the interpolator's synthesis as ``should_cancel`` where the interpolator accepts it (it
then checks between the stages of one synthesis and raises :class:`tempo_core.errors.Cancelled`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # keeps start-up light: tempo_core loads torch
    from tempo_core.inference import EncodedAnchors, Interpolator, Synthesis


def accepts_should_cancel(method: Callable[..., Any]) -> bool:
    """Whether ``method`` takes a ``should_cancel`` keyword (newer interpolators do)."""
    try:
        return "should_cancel" in inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False


class CancellableModel:
    """Forwards to ``model`` (an Interpolator); raises Cancelled once ``is_cancelled()`` is true.

    Attributes it does not define (``tile``, ``device``, ...) are the model's own.
    """

    def __init__(self, model: Interpolator, is_cancelled: Callable[[], bool]) -> None:
        self._model = model
        self._is_cancelled = is_cancelled
        self._inner_checks = accepts_should_cancel(model.synthesize)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def check(self) -> None:
        """Raise :class:`tempo_core.errors.Cancelled` if the user cancelled."""
        if self._is_cancelled():
            from tempo_core.errors import Cancelled

            raise Cancelled()

    def encode(self, frames: Sequence[Any], timestamps: Sequence[float], tile: int | None = None) -> EncodedAnchors:
        self.check()
        if tile is None:
            return self._model.encode(frames, timestamps)
        return self._model.encode(frames, timestamps, tile=tile)

    def synthesize(self, anchors: EncodedAnchors, target_times: Sequence[float]) -> list[Synthesis]:
        """All target times in one call that checks between its stages where the interpolator
        supports it; else one target time at a time, checking before each."""
        self.check()
        if self._inner_checks:
            results = list(self._model.synthesize(anchors, list(target_times), should_cancel=self._is_cancelled))
        else:
            results = []
            for target in target_times:
                self.check()
                results.extend(self._model.synthesize(anchors, [target]))
        self.check()
        return results
