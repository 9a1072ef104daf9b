"""Entry point of ``tempo-app``: the desktop app, or a scripted screenshot.

tempo-app [CLIP] [--at SECONDS] [--anchors 2|4] [--overlay] [--compare off|split|side]
          [--report OUT.report.json [--next-doubtful]]
          [--checkpoint FILE] [--device cpu|cuda|mps] [--precision fp32|bf16|fp16]
          [--screenshot OUT.png [--size 1280x800]]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from collections.abc import Sequence

from tempo_core.inference.settings import PRECISION_NAMES


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tempo-app",
        description="TEMPO desktop app: scrub a clip in continuous time, see synthesized "
        "in-between frames with their confidence, export slow motion.",
    )
    parser.add_argument("clip", nargs="?", help="video file to open")
    parser.add_argument("--at", type=float, help="put the playhead at this time (seconds)")
    parser.add_argument("--anchors", type=int, choices=(2, 4), default=2, help="N nearest frames")
    parser.add_argument("--overlay", action="store_true", help="show the confidence overlay")
    parser.add_argument("--compare", choices=("off", "split", "side"), default="off")
    parser.add_argument(
        "--report", metavar="FILE.report.json", help="show an export report of CLIP on the timeline's confidence track"
    )
    parser.add_argument(
        "--next-doubtful",
        action="store_true",
        help="go to the first doubtful frame after --at and open the overlay there (as the D key does)",
    )
    parser.add_argument("--checkpoint", help="model file (.safetensors); default: bundled model")
    parser.add_argument("--device", choices=("cpu", "cuda", "mps"), help="default: automatic")
    parser.add_argument("--precision", choices=PRECISION_NAMES, help="default: last used, else fp32")
    parser.add_argument("--screenshot", metavar="OUT.png", help="save a window screenshot, exit")
    parser.add_argument("--size", default="1280x800", help="window size for --screenshot")
    parser.add_argument("--timeout", type=_seconds, default=600.0, help="seconds for --screenshot")
    return parser


def _parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise SystemExit(f"tempo-app: --size must look like 1280x800, not {text!r}.") from None
    return max(320, width), max(240, height)


def _headless() -> bool:
    return sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _seconds(text: str) -> float:
    """A positive, finite number of seconds (``--timeout nan`` or ``-1`` is a usage error, not a traceback)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= 86400):
        raise argparse.ArgumentTypeError(f"must be a number of seconds between 0 and 86400, not {text!r}")
    return value


def main(argv: Sequence[str] | None = None, factory=None) -> int:
    """Run the app; ``factory(ModelSpec) -> Interpolator`` replaces checkpoint loading (tests)."""
    args = build_parser().parse_args(argv)
    if args.screenshot and not args.clip:
        print("tempo-app: --screenshot needs a CLIP to open.", file=sys.stderr)
        return 2
    if args.screenshot:
        from tempo_app.screenshot import request_problem

        problem = request_problem(args.screenshot, args.clip, args.size)
        if problem:
            print(f"tempo-app: {problem}", file=sys.stderr)
            return 2
    if args.screenshot and _headless():
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from tempo_app.platform_check import install_message_handler

    install_message_handler()  # one sentence when the platform plugin cannot start

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from tempo_app.controller import AppController
    from tempo_app.main_window import MainWindow
    from tempo_app.resources import icon, style_sheet
    from tempo_app.state.settings import AppSettings

    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setOrganizationName("TEMPO")
    app.setApplicationName("tempo-app")
    app.setWindowIcon(icon("tempo"))
    app.setStyleSheet(style_sheet())

    scratch = tempfile.TemporaryDirectory() if args.screenshot else None
    store = (
        QSettings(os.path.join(scratch.name, "settings.ini"), QSettings.Format.IniFormat)
        if scratch is not None
        else QSettings()
    )
    settings = AppSettings(store)
    if args.device:
        settings.device = args.device
    if args.precision:
        settings.precision = args.precision
    controller = AppController(settings, factory=factory)
    window = MainWindow(controller)
    code = 1
    try:
        if args.screenshot:
            code = _screenshot(controller, window, args)
        else:
            window.show()
            controller.start(checkpoint=args.checkpoint)
            opened = bool(args.clip) and controller.open_clip(args.clip)
            if opened and args.report:
                controller.load_report_file(args.report)
            if opened and args.at is not None:
                controller.session.set_playhead(args.at)
            if opened and args.next_doubtful:
                controller.jump_to_doubtful(+1)
            controller.session.set_anchor_count(args.anchors)
            controller.view.set_overlay_enabled(args.overlay)
            controller.view.set_compare_mode(args.compare)
            code = app.exec()
    finally:
        if window.isVisible():
            window.close()
        else:
            controller.shutdown()
        if scratch is not None:
            scratch.cleanup()
    if controller.threads_running():
        # A model call or a frame decode cannot be interrupted; exiting now beats Qt aborting
        # on a live thread.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _screenshot(controller, window, args) -> int:
    from tempo_app.screenshot import ScreenshotJob, ScreenshotRunner

    width, height = _parse_size(args.size)
    job = ScreenshotJob(
        clip=args.clip,
        at=args.at,
        output=args.screenshot,
        anchors=args.anchors,
        overlay=args.overlay,
        compare=args.compare,
        report=args.report,
        next_doubtful=args.next_doubtful,
        checkpoint=args.checkpoint,
        width=width,
        height=height,
        timeout_s=args.timeout,
    )
    return ScreenshotRunner(controller, window, job).run()


if __name__ == "__main__":
    sys.exit(main())
