"""Local paths open local files only, and never block: what every reader of a user's path uses.

Two hostile-path classes go away here:

* **Paths read as URLs.** FFmpeg (PyAV, OpenCV) takes a file name as a URL: a file named
  ``concat:b.mp4`` reads ``b.mp4``, ``http:127.0.0.1:8766.mp4`` makes an HTTP request, an output
  folder named ``http:host:port`` sends the video there, and a plain ``take:1.mp4`` fails with
  "protocol not found". :func:`ffmpeg_url` gives FFmpeg the absolute path behind its ``file:``
  protocol, so whatever the name holds, the local file of that name is opened (read or write).
* **Opens that never return.** Opening a named pipe (FIFO) for reading waits for a writer,
  uninterruptibly when a library holds the GIL meanwhile (safetensors does). Devices and sockets
  are no better. :func:`special_file_kind` names such a path from ``stat`` before anything opens
  it, and :func:`open_regular` opens a file with ``O_NONBLOCK`` and checks the opened descriptor
  (``fstat``), so not even a path swapped in between can block.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

__all__ = ["NotRegularFileError", "ffmpeg_url", "open_regular", "special_file_kind"]

_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
)


class NotRegularFileError(OSError):
    """The path names a pipe, socket or device, not a file (``str`` says which, in words)."""


def ffmpeg_url(path: str | os.PathLike[str]) -> str:
    """The URL that makes FFmpeg open ``path`` as the local file of that name (read or write):
    its absolute path behind the ``file:`` protocol (``/a/concat:b.mp4`` -> ``file:/a/concat:b.mp4``)."""
    return "file:" + os.path.abspath(os.fspath(path))


def _kind(mode: int) -> str | None:
    return next((kind for test, kind in _KINDS if test(mode)), None)


def special_file_kind(path: str | os.PathLike[str]) -> str | None:
    """``"a named pipe (FIFO)"``, ``"a socket"`` or ``"a device"`` when ``path`` (after symlinks)
    is one of those, else None (a regular file, a folder, or nothing there: the caller's own
    checks say those)."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return None
    return _kind(mode)


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """``path`` opened for binary reading, never blocking: raises :class:`NotRegularFileError`
    for a pipe, socket or device (checked on the opened descriptor), OSError as ``open`` does."""
    fd = os.open(os.fspath(path), os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    try:
        mode = os.fstat(fd).st_mode
        kind = _kind(mode) or (None if stat.S_ISREG(mode) or stat.S_ISDIR(mode) else "a special file")
        if kind is not None:
            raise NotRegularFileError(f"{Path(path).name} is {kind}, not a file")
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(f"{Path(path).name} is a folder")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
