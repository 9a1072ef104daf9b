"""Turn any exception into one plain sentence for a dialog, and show it.

``tempo_core`` errors already carry a sentence. GPU out-of-memory gets advice. Anything else is
a bug: the sentence names the exception type, the traceback goes to the log, never to the user.
"""

from __future__ import annotations

import logging

from PySide6.QtWidgets import QMessageBox, QWidget

from tempo_core.errors import TempoError

log = logging.getLogger("tempo_app")

OOM_ADVICE = "The GPU ran out of memory; turn on Model > Synthesize in tiles, or choose Model > Device > CPU."


def is_out_of_memory(error: BaseException) -> bool:
    try:
        import torch

        if isinstance(error, torch.cuda.OutOfMemoryError):
            return True
    except Exception:
        pass
    text = str(error).lower()
    return isinstance(error, (RuntimeError, MemoryError)) and "out of memory" in text


def user_message(error: BaseException, doing: str = "That") -> str:
    """One sentence for ``error``; ``doing`` names the action, e.g. "Loading the model"."""
    if isinstance(error, TempoError):
        return str(error)
    if is_out_of_memory(error):
        return OOM_ADVICE
    log.error("%s failed unexpectedly", doing, exc_info=error)
    detail = str(error).strip().splitlines()[0] if str(error).strip() else ""
    detail = f" ({type(error).__name__}: {detail[:160]})" if detail else f" ({type(error).__name__})"
    return f"{doing} failed unexpectedly{detail}."


def show_error(parent: QWidget | None, message: str, title: str = "TEMPO") -> None:
    """A modal error dialog with one sentence (tests monkeypatch ``QMessageBox.critical``)."""
    QMessageBox.critical(parent, title, message)
