"""The ``tempo`` command line: one sub-command per module, dispatched here.

Every command module exposes ``add_arguments(parser)`` and ``run(args) -> int``. User-facing
failures (:class:`tempo_core.errors.TempoError`) print one plain sentence and exit non-zero;
Ctrl-C exits with 130 after the command has cleaned up.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from tempo_core.errors import TempoError

COMMANDS: dict[str, tuple[str, str]] = {
    "interpolate": ("tempo_core.commands.interpolate", "slow motion / frame-rate conversion of a video"),
    "info": ("tempo_core.commands.info", "print the presets and their measured parameter counts"),
    "train": ("tempo_core.training.command", "train a TEMPO model"),
    "export": ("tempo_core.commands.export", "export a run or checkpoint to .safetensors"),
    "eval": ("tempo_core.evaluation.evaluate", "measure PSNR / SSIM on triplets or septuplets"),
    "bench": ("tempo_core.evaluation.bench", "measure synthesis speed and memory"),
}


EXAMPLES = """examples:
  tempo interpolate clip.mp4 -o clip_60fps.mp4 --factor 2     twice the frame rate, same duration
  tempo interpolate clip.mp4 -o clip_slow.mp4 --slowmo 4      four times longer
  tempo interpolate --help                                    every option of the main command"""


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Examples kept as written; every command name and its help on one line (argparse measures
    sub-commands without the indent it then prints them with, and wrapped "interpolate")."""

    def add_argument(self, action: argparse.Action) -> None:
        super().add_argument(action)
        if isinstance(action, argparse._SubParsersAction):
            longest = max((len(name) for name in action.choices), default=0)
            self._action_max_length = max(self._action_max_length, self._current_indent + 4 + longest)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tempo",
        description="TEMPO frame interpolation",
        epilog=EXAMPLES,
        formatter_class=_HelpFormatter,
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name == module_name:
                continue  # command not part of this build
            # a missing dependency of one command (PyAV, say) must not take the others down
            sub = subparsers.add_parser(name, help=f"{help_text} (unavailable: needs {err.name})", add_help=False)
            sub.set_defaults(_run=_unavailable(err.name or "a missing package"), _unavailable=True)
            continue
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(sub)
        sub.set_defaults(_run=module.run)
    return parser


def _unavailable(package: str) -> Callable[[argparse.Namespace], int]:
    """The run function of a command whose dependency ``package`` is not installed."""

    def run(args: argparse.Namespace) -> int:
        raise TempoError(
            f"this command needs the Python package {package!r}, which is not installed (pip install {package})."
        )

    return run


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown and not getattr(args, "_unavailable", False):
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        return int(args._run(args) or 0)
    except TempoError as err:
        print(f"tempo {args.command}: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"tempo {args.command}: interrupted.", file=sys.stderr)
        return 130


def entry() -> NoReturn:
    """The ``tempo`` command: :func:`main`, then the exit. The interpreter's last garbage
    collection would walk every object the run made (1.1-1.3 s after a 720p export was
    cancelled, measured with py-spy); at exit nothing is left for it to free, so it is skipped."""
    code = main()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    entry()
