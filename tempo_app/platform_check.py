"""One sentence instead of Qt's advice when the windowing platform plugin cannot start.

On Linux Qt draws through its "xcb" plugin, which needs X11 client libraries that a plain
desktop may lack (libxcb-cursor0 since Qt 6.5, libxcb-icccm4, libxcb-keysyms1, ...). Qt then
aborts with "Reinstalling the application may fix this problem", which misleads.
:func:`install_message_handler` holds Qt's platform messages back and, if Qt gives up, prints one
sentence naming the missing libraries (or the display it could not open) and exits with code 1.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable
from typing import TextIO

# Debian / Ubuntu package -> the shared library of it that Qt's xcb plugin loads.
XCB_PACKAGES: dict[str, str] = {
    "libxcb-cursor0": "libxcb-cursor.so.0",
    "libxcb-icccm4": "libxcb-icccm.so.4",
    "libxcb-keysyms1": "libxcb-keysyms.so.1",
    "libxcb-image0": "libxcb-image.so.0",
    "libxcb-render-util0": "libxcb-render-util.so.0",
    "libxcb-shape0": "libxcb-shape.so.0",
    "libxcb-randr0": "libxcb-randr.so.0",
    "libxcb-xkb1": "libxcb-xkb.so.1",
    "libxkbcommon-x11-0": "libxkbcommon-x11.so.0",
}
QUIET = ("propagateSizeHints",)  # the offscreen platform warns about features it lacks


def missing_packages(load: Callable[[str], object] = ctypes.CDLL) -> list[str]:
    """The packages of :data:`XCB_PACKAGES` whose library cannot be loaded here."""
    missing = []
    for package, library in XCB_PACKAGES.items():
        try:
            load(library)
        except OSError:
            missing.append(package)
    return missing


def failure_sentence(missing: list[str], display: str | None) -> str:
    """The one sentence printed when Qt's platform plugin could not start."""
    if missing:
        names = " ".join(missing)
        return (
            f"tempo-app: the Qt platform plugin cannot start because system libraries are missing "
            f"(on Debian or Ubuntu: sudo apt-get install {names}); --screenshot works without them."
        )
    every = " ".join(XCB_PACKAGES)
    return (
        f"tempo-app: the Qt platform plugin cannot start: no display could be opened at "
        f"DISPLAY={display or '(unset)'}, or a system library is missing ({every})."
    )


def is_platform_failure(message: str) -> bool:
    return "platform plugin" in message and ("could be initialized" in message or "Could not load" in message)


def install_message_handler(
    stream: TextIO | None = None, leave: Callable[[int], object] = os._exit
) -> Callable[[object, object, str], None]:
    """Route Qt's messages: platform plugin failures become one sentence and exit code 1."""
    from PySide6.QtCore import QtMsgType, qInstallMessageHandler

    held: list[str] = []

    def handler(mode: object, context: object, message: str) -> None:
        out = stream or sys.stderr
        if is_platform_failure(message) or "xcb" in message or "connect to display" in message:
            held.append(message)  # shown as one sentence if Qt gives up, else not news
            if mode == QtMsgType.QtFatalMsg or "could be initialized" in message:
                print(failure_sentence(missing_packages(), os.environ.get("DISPLAY")), file=out, flush=True)
                leave(1)
            return
        if not any(quiet in message for quiet in QUIET):
            print(message, file=out)

    qInstallMessageHandler(handler)
    return handler
