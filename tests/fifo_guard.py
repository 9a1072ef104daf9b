"""A named pipe (FIFO) for the "opens that never return" tests, that can never hang a test.

Opening a FIFO for reading waits for a writer, and safetensors waits holding the GIL, so no
thread of the test could help. :func:`guarded_fifo` makes the FIFO and starts a *process* that
opens it for writing (and exits at once, or after ``limit`` seconds): should the code under test
open the FIFO after all, it gets end-of-file instead of waiting forever, and the test's own
assertion (a refusal naming the pipe) fails.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def guarded_fifo(path: Path, limit: int = 60) -> Iterator[Path]:
    """A FIFO at ``path`` whose first reader is released within ``limit`` seconds."""
    os.mkfifo(path)
    writer = subprocess.Popen(["timeout", str(limit), "sh", "-c", 'exec 3>"$1"', "sh", str(path)])
    try:
        yield path
    finally:
        writer.kill()
        writer.wait()
