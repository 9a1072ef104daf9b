"""Where an export may write: never the source, never a file or folder the run did not create.

Rules (each refusal is one :class:`OutputError` sentence):

* the output is not the source (same path, or the same file under another name) and is not a
  folder that holds the source (``-o .`` next to the clip, the clip's own folder);
* an existing video file is replaced only with ``overwrite``; an existing folder is replaced
  (PNG sequence, with ``overwrite``) only when TEMPO made it: it holds the :data:`MARKER` file
  and nothing but ``frame_*.png`` beside it;
* temporary outputs are hidden names beside the target that carry the writer's process id,
  ``.NAME.tempo-<pid>-<hex>.partial[.ext]`` (and ``.old`` for a replaced folder on its way out),
  so a later run can tell an abandoned one (:func:`remove_stale_leftovers`) from a live one;
* the final move re-checks the target (:func:`place`): a file that appeared meanwhile, or that
  changed since the run began, is left alone and the new output is kept under a clear name.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import time
from pathlib import Path

from tempo_core.errors import OutputError

MARKER = ".tempo-frames"
_MARKER_TEXT = "PNG frames written by TEMPO; `tempo interpolate --overwrite` may replace this folder.\n"
STALE_AFTER_S = 60.0
_LEFTOVER = re.compile(r"^\..+\.tempo-(?P<pid>\d+)-[0-9a-f]{8}\.(partial|old)(\.[A-Za-z0-9]+)?$")
_FRAME = re.compile(r"^frame_\d+\.png$")

Identity = tuple[int, int, int, int]  # device, inode, mtime (ns), size


def identity(path: Path) -> Identity | None:
    """What the path is now (``None`` when nothing is there); a change means someone wrote it."""
    try:
        stat = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return (stat.st_dev, stat.st_ino, stat.st_mtime_ns, stat.st_size)


def shown(path: Path) -> str:
    """The path as a user recognises it (``.`` becomes the folder's absolute path)."""
    return str(path) if path.name not in ("", ".", "..") else str(path.absolute())


def made_by_tempo(folder: Path) -> bool:
    """True for a folder of PNG frames written by TEMPO: the marker and frames, nothing else."""
    try:
        names = [entry.name for entry in os.scandir(folder)]
    except OSError:
        return False
    return MARKER in names and all(name == MARKER or _FRAME.match(name) for name in names)


def mark_as_tempo_folder(folder: Path) -> None:
    (folder / MARKER).write_text(_MARKER_TEXT, encoding="utf-8")


def _holds(folder: Path, item: Path) -> bool:
    return folder == item or folder in item.parents


def check_output_path(path: Path, *, folder_output: bool, overwrite: bool, source: Path | None) -> None:
    """Refuse an output location that is or holds the source, or is not ours to replace."""
    target = path.resolve()
    if source is not None:
        original = Path(source).resolve()
        same = target == original or (path.exists() and original.exists() and os.path.samefile(path, original))
        if same:
            raise OutputError("The output would overwrite the source video; choose another name.")
        if _holds(target, original):
            raise OutputError(f"The output {shown(path)} is the folder that holds the source video; choose a new name.")
    if not path.exists():
        return
    if folder_output and not path.is_dir():
        raise OutputError(f"{shown(path)} is a file; PNG frames go into a new folder, choose another name.")
    if folder_output and not made_by_tempo(path):
        raise OutputError(
            f"{shown(path)} is a folder TEMPO did not make; TEMPO replaces only its own frame folders, "
            "so choose a new folder name."
        )
    if not folder_output and path.is_dir():
        raise OutputError(f"{shown(path)} is a folder; choose a file name for the video.")
    if not overwrite:
        raise OutputError(f"{shown(path)} already exists; pass --overwrite to replace it.")


def temporary_name(path: Path, kind: str = "partial") -> Path:
    """A fresh hidden name beside ``path`` that carries this process id (``kind``: partial/old)."""
    suffix = path.suffix if kind == "partial" else ""
    stem = path.stem if suffix else path.name
    return path.with_name(f".{stem}.tempo-{os.getpid()}-{secrets.token_hex(4)}.{kind}{suffix}")


def _process_gone(pid: int) -> bool:
    if os.name == "nt":
        return False  # no cheap check without a process library: keep it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OSError):
        return False
    return False


def remove_stale_leftovers(folder: Path, older_than_s: float = STALE_AFTER_S) -> list[str]:
    """Delete TEMPO's temporary outputs in ``folder`` left by killed runs: only names of the
    :func:`temporary_name` form, older than ``older_than_s``, whose process is gone. Returns
    the names removed."""
    removed = []
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _LEFTOVER.match(entry.name)
        if match is None or int(match["pid"]) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if now - entry.stat(follow_symlinks=False).st_mtime < older_than_s:
                continue
            if not _process_gone(int(match["pid"])):
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed.append(entry.name)
    return removed


def _link_file(source: Path, target: Path) -> bool:
    """Give ``source`` the name ``target`` unless something is there; False if it was taken."""
    try:
        os.link(source, target)
    except FileExistsError:
        return False
    except OSError:  # a file system without hard links: check, then move
        if os.path.lexists(target):
            return False
        os.replace(source, target)
        return True
    os.unlink(source)
    return True


def _rename_folder(source: Path, target: Path) -> bool:
    if os.path.lexists(target):
        return False
    try:
        os.rename(source, target)  # fails on anything but a missing or empty folder
    except OSError:
        return False
    return True


def _move(source: Path, target: Path) -> bool:
    return _rename_folder(source, target) if source.is_dir() else _link_file(source, target)


def _kept_name(path: Path, number: int, folder: bool) -> Path:
    label = "new" if number == 1 else f"new {number}"
    if path.suffix and not folder:
        return path.with_name(f"{path.stem} ({label}){path.suffix}")
    return path.with_name(f"{path.name} ({label})")


def place(temp: Path, path: Path, *, overwrite: bool, expected: Identity | None) -> None:
    """Move the finished ``temp`` output to ``path``. Replaces only what was there when the run
    began (``expected``, with ``overwrite``); anything else at ``path`` stays, and the output
    is kept as ``NAME (new).ext`` with an :class:`OutputError` saying so."""
    now = identity(path)
    if now is None and _move(temp, path):
        return
    if now is not None and overwrite and now == expected and _replace(temp, path):
        return
    for number in range(1, 1000):
        kept = _kept_name(path, number, temp.is_dir())
        if _move(temp, kept):
            raise OutputError(
                f"{shown(path)} appeared or changed while TEMPO was writing it and was left alone; "
                f"the new output was saved as {kept.name}."
            )
    raise OutputError(f"{shown(path)} appeared while TEMPO was writing it; the new output was not kept.")


def _replace(temp: Path, path: Path) -> bool:
    if not temp.is_dir():
        os.replace(temp, path)
        return True
    if not made_by_tempo(path):
        return False
    trash = temporary_name(path, "old")
    os.replace(path, trash)
    os.replace(temp, path)
    shutil.rmtree(trash, ignore_errors=True)
    return True
