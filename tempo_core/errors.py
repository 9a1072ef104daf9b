"""User-facing errors: each carries one plain-language sentence for a dialog or the CLI.

Code that talks to users (the CLI, the app) catches :class:`TempoError` and shows ``str(err)``;
anything else is a bug and is reported as such, never as a raw traceback in a dialog.
"""

from __future__ import annotations


class TempoError(Exception):
    """Base class: ``str(error)`` is a complete sentence a user can act on."""


class MediaError(TempoError):
    """A video or image could not be read or written (corrupt, unsupported, no video stream)."""


class ModelError(TempoError):
    """A checkpoint is missing, not safetensors, of another architecture or holds bad values."""


class InputError(TempoError):
    """Arguments that cannot work: N=1, equal anchor times, mismatched frame sizes, ..."""


class OutputError(TempoError):
    """The output cannot be written: folder not writable, disk full, file exists."""


class Cancelled(TempoError):
    """The user cancelled; nothing was left behind."""

    def __init__(self, message: str = "Cancelled by the user; no output was written.") -> None:
        super().__init__(message)


# FFmpeg's error codes are negated four-letter tags (FFERRTAG); PyAV reports them positive.
_FFMPEG_TAGS = {
    b"INDA": "invalid data found when processing input",
    b"EOF ": "end of file",
    b"BSF\xf8": "bitstream filter not found",
    b"DEC\xf8": "decoder not found",
    b"DEM\xf8": "demuxer not found",
    b"ENC\xf8": "encoder not found",
    b"MUX\xf8": "muxer not found",
    b"PRO\xf8": "protocol not found",
    b"STR\xf8": "stream not found",
    b"PAWE": "patch welcome: the feature is not implemented",
    b"BUG!": "internal bug in FFmpeg",
    b"BUG ": "internal bug in FFmpeg",
    b"EXT ": "generic external error",
    b"UNKN": "unknown error",
}


def error_words(number: int) -> str | None:
    """Words for an OS ``errno`` or an FFmpeg error code (``1094995529`` -> "invalid data found
    when processing input"), or ``None`` when the number means nothing known."""
    import errno
    import os

    number = abs(int(number))
    if number in errno.errorcode:
        return os.strerror(number).lower()
    try:
        tag = number.to_bytes(4, "little")
    except OverflowError:
        return None
    return _FFMPEG_TAGS.get(tag)


def describe(err: BaseException) -> str:
    """A short lower-case reason for an OS / PyAV / library error: words, never an error number,
    a path or a traceback (``"invalid data found when processing input"``)."""
    number = getattr(err, "errno", None)
    text = getattr(err, "strerror", None) or ""
    if not text and isinstance(number, int):
        text = error_words(number) or ""
    if not text:
        text = str(err.args[0]) if err.args and isinstance(err.args[0], str) else ""
    text = text.split("\n")[0].split(": '")[0].split(":")[0].strip()
    if text.startswith("[Errno"):
        text = text.split("]", 1)[-1].strip()
    return text.rstrip(".").lower() or type(err).__name__.lower()
