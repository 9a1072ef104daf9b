"""Small helpers shared by ``tempo eval``, ``tempo bench`` and ``tempo train``: a progress bar and JSON
output."""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tempo_core.errors import OutputError, describe
from tempo_core.output_paths import check_file_target, write_file


class ProgressBar:
    """A one-line progress bar on stderr (a line every 10% when stderr is not a terminal)."""

    def __init__(self, total: int, label: str, enabled: bool = True) -> None:
        self.total, self.label, self.enabled = total, label, enabled
        self.started = time.perf_counter()
        self.tty = sys.stderr.isatty()
        self._last_tenth = -1

    def update(self, done: int, note: str = "") -> None:
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.started
        eta = elapsed / done * (self.total - done) if done else float("nan")
        eta_text = f"{eta:5.0f}s" if math.isfinite(eta) else "   --"
        text = f"{self.label} {done}/{self.total} ETA {eta_text} {note}"
        if self.tty:
            filled = int(24 * done / max(1, self.total))
            bar = "#" * filled + "." * (24 - filled)
            sys.stderr.write(f"\r[{bar}] {text}")
            if done >= self.total:
                sys.stderr.write("\n")
            sys.stderr.flush()
        elif done * 10 // max(1, self.total) > self._last_tenth:
            self._last_tenth = done * 10 // max(1, self.total)
            print(text, file=sys.stderr, flush=True)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def write_json(
    path: str | Path,
    report: dict[str, Any],
    *,
    overwrite: bool = False,
    inputs: Sequence[str | os.PathLike[str]] = (),
) -> None:
    """Write ``report`` as indented JSON through the safe-output path
    (:func:`tempo_core.output_paths.write_file`): never one of the run's ``inputs`` (a
    model, ground truth), an existing file only with ``overwrite``, a temporary name then a
    rename, so a failure leaves what was at ``path`` as it was.

    Non-finite floats become ``null`` (strict JSON); values JSON cannot hold are written as ``str``.
    A refusal or an ``OSError`` is raised as :class:`OutputError`.
    """
    text = json.dumps(_jsonable(report), indent=2, default=str) + "\n"
    try:
        write_file(path, lambda temp: temp.write_text(text), overwrite=overwrite, inputs=inputs, what="JSON file")
    except OSError as err:
        raise OutputError(f"Could not write {path} ({describe(err)}).") from None


def check_json_target(
    path: str | Path | None, *, overwrite: bool, inputs: Sequence[str | os.PathLike[str]] = ()
) -> None:
    """Refuse, before a long run, a ``--json`` path :func:`write_json` would refuse (None: no JSON)."""
    if path is None:
        return
    check_file_target(Path(path), overwrite=overwrite, inputs=inputs, what="JSON file")
