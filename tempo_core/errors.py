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
