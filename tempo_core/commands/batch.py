"""Batches for ``tempo interpolate``: several inputs or a folder, one output folder, keep going.

``tempo interpolate A.mp4 B.mov C.mkv -o OUTDIR/ --factor 2`` (or ``tempo interpolate FOLDER -o
OUTDIR/``) exports each clip in turn with one loaded model into ``OUTDIR/<name>_<how>.<ext>``
(``clip_x2.mp4``, ``clip_60fps.mov``, ``clip_slowmo4.mkv``; a PNG sequence gets a folder). A
clip that fails is reported with its sentence and the batch goes on; Ctrl-C stops the whole
batch. At the end one line per file says what happened, and the exit code is non-zero if any
file failed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tempo_core.errors import InputError, OutputError, describe

__all__ = ["BatchItem", "batch_outputs", "expand_inputs", "is_batch", "output_name", "summary_line"]

VIDEO_EXTENSIONS = frozenset(
    ".mp4 .mov .mkv .m4v .avi .webm .mts .m2ts .ts .mxf .y4m .wmv .flv .mpg .mpeg .3gp .ogv".split()
)
_EXTENSIONS = {"h264": ".mp4", "hevc": ".mp4", "prores": ".mov", "ffv1": ".mkv", "png": ""}


@dataclass
class BatchItem:
    """One clip of a batch: where it goes and how it ended (``status``: "pending", "ok",
    "failed", "cancelled" or "not started"; ``message``: the result or the error sentence)."""

    source: Path
    output: Path
    status: str = "pending"
    message: str = ""
    inputs: tuple[Path, ...] = ()  # the batch's other clips: never written


def expand_inputs(inputs: list[str]) -> list[Path]:
    """The clips meant by the inputs: files as given, folders as their video files (sorted by
    name, hidden files and sub-folders left out). Refuses a folder holding no video."""
    clips: list[Path] = []
    for name in inputs:
        path = Path(name)
        if not path.is_dir():
            clips.append(path)
            continue
        found = sorted(
            p
            for p in path.iterdir()
            if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in VIDEO_EXTENSIONS
        )
        if not found:
            raise InputError(
                f"The folder {path} holds no video files ({', '.join(sorted(VIDEO_EXTENSIONS)[:5])}, ...)."
            )
        clips.extend(found)
    return clips


def is_batch(inputs: list[str], output: str, codec: str) -> bool:
    """A batch: several inputs, a folder as input, or an output folder (a trailing slash or an
    existing folder; for PNG only several inputs or a folder input, since a single PNG
    export's output is itself a folder)."""
    if len(inputs) > 1 or any(Path(name).is_dir() for name in inputs):
        return True
    if codec == "png":
        return False
    return output.endswith((os.sep, "/")) or Path(output).is_dir()


def output_name(source: Path, mode: str, value: float, codec: str) -> str:
    """``clip_x2.mp4``, ``clip_60fps.mov``, ``clip_slowmo4.mkv``, ``clip_x2_frames`` (PNG)."""
    number = f"{value:g}"
    how = {"factor": f"x{number}", "fps": f"{number}fps", "slowmo": f"slowmo{number}"}[mode]
    if codec == "png":
        return f"{source.stem}_{how}_frames"
    return f"{source.stem}_{how}{_EXTENSIONS[codec]}"


def batch_outputs(sources: list[Path], folder: Path, mode: str, value: float, codec: str) -> list[BatchItem]:
    """A :class:`BatchItem` per clip in ``folder`` (made if missing); two clips of the same name
    from different folders get ``_2``, ``_3`` ... so no output is written twice."""
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder} is a file; a batch writes into a folder.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"The output folder {folder} cannot be made ({describe(err)}).") from None
    items: list[BatchItem] = []
    taken: set[str] = set()
    for source in sources:
        name = output_name(source, mode, value, codec)
        stem, number = Path(name).stem if codec != "png" else name, 2
        while name in taken:
            name = f"{stem}_{number}{_EXTENSIONS[codec]}"
            number += 1
        taken.add(name)
        items.append(BatchItem(source, folder / name))
    return items


def summary_line(item: BatchItem) -> str:
    """One line of the final summary: ``ok      A.mp4 -> out/A_x2.mp4: ...``."""
    label = {"ok": "ok", "failed": "FAILED", "cancelled": "cancelled", "not started": "skipped"}
    head = f"{label.get(item.status, item.status):<9} {item.source.name}"
    if item.status == "ok":
        return f"{head} -> {item.output}: {item.message}"
    return f"{head}: {item.message}" if item.message else head
