"""Small helpers shared by ``tempo eval``, ``tempo bench`` and ``tempo train``: a progress bar and JSON
output."""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

from tempo_core.errors import OutputError, describe


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


def write_json(path: str | Path, report: dict[str, Any]) -> None:
    """Write ``report`` as indented JSON, atomically (temporary file, then rename).

    Non-finite floats become ``null`` (strict JSON); values JSON cannot hold are written as ``str``.
    An ``OSError`` is raised as :class:`OutputError`.
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        temporary.write_text(json.dumps(_jsonable(report), indent=2, default=str) + "\n")
        os.replace(temporary, path)
    except OSError as err:
        raise OutputError(f"Could not write {path} ({describe(err)}).") from None
    finally:
        temporary.unlink(missing_ok=True)
