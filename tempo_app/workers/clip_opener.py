"""Open (index and check) a clip on a thread of its own, never on the UI thread.

Opening a clip demuxes the whole file once to learn every frame's timestamp. On a long clip, or
on a slow or network disk, that takes seconds, and on the UI thread it froze the window. A
:class:`ClipOpener` runs that one open and reports back:

* ``opened(path, reader)``: the ``VideoReader``. It becomes the receiver's, which hands it to the
  frame thread or closes it; the opener never touches it again.
* ``failed(path, sentence)``: every exception as one sentence from :func:`user_message`.

An open cannot be interrupted mid-scan. A newer open supersedes it by being the one the receiver
listens to; the receiver closes a superseded reader when it arrives.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal

from tempo_app.errors import user_message


class ClipOpener(QThread):
    """Opens ``path`` with ``open_reader`` on its own thread; see the module docstring."""

    result = Signal(str, object)  # path, VideoReader (now the receiver's)
    failed = Signal(str, str)  # path, one sentence

    def __init__(self, path: str, open_reader: Callable[[str], Any], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.path = path
        self._open_reader = open_reader

    def run(self) -> None:
        try:
            reader = self._open_reader(self.path)
        except Exception as error:  # every failure becomes a sentence
            self.failed.emit(self.path, user_message(error, f"Opening {os.path.basename(self.path)}"))
            return
        self.result.emit(self.path, reader)
