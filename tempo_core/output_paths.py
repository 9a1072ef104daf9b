"""Where TEMPO may write: the one safe-output path every file it writes goes through.

Every output (the video or PNG folder, the export report's ``.report.json`` and ``.report.png``,
``tempo eval --json``, ``tempo bench --json``, a training run's files) obeys the same rules, and
each refusal is one :class:`OutputError` sentence:

* the output is never an input of the run: not the source (same path, or the same file under
  another name), not another input of the same batch (:func:`check_output_path`'s ``inputs``),
  and not a folder that holds one (``-o .`` next to the clip, the clip's own folder);
* an existing file is replaced only with ``overwrite``; an existing folder is replaced (PNG
  sequence, with ``overwrite``) only when TEMPO made it: it holds the :data:`MARKER` file with
  TEMPO's text and nothing but regular ``frame_*.png`` files beside it; a symbolic link that
  leads nowhere is refused up front;
* a file is written inside a hidden staging folder beside the target,
  ``.tempo-<pid>-<hex>.partial/`` holding the :data:`MARKER` file and ``partial.EXT``
  (:func:`create_staged_file`); a PNG sequence is written into a hidden folder of that name
  holding the marker (:func:`create_temp_folder`). The names are short whatever the target's
  length, so a 255-byte output name works;
* the final move re-checks the target (:func:`place`): a file that appeared meanwhile, or that
  changed since the run began, is left alone and the new output is kept under a clear name;
  :func:`write_file` is the whole path for a file written in one go;
* leftovers of killed runs (:func:`remove_stale_leftovers`) are recognised by the marker TEMPO
  wrote inside them, not by their name alone: a user's own file or folder with a TEMPO-like
  name is never touched.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
import stat
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from tempo_core.errors import OutputError

MARKER = ".tempo-frames"
MARKER_TEXT = "PNG frames written by TEMPO; `tempo interpolate --overwrite` may replace this folder.\n"
STAGING_TEXT = "A file TEMPO is writing; TEMPO removes this folder once the file is in place.\n"
STALE_AFTER_S = 60.0
_LEFTOVER = re.compile(r"^\.tempo-(?P<pid>\d+)-[0-9a-f]{8}\.(partial|old)$")
_FRAME = re.compile(r"^frame_\d+\.png$")
_STAGED = re.compile(r"^partial(\.[A-Za-z0-9]+)?$")

Identity = tuple[int, int, int, int]  # device, inode, mtime (ns), size


def identity(path: Path) -> Identity | None:
    """What the path is now (``None`` when nothing is there); a change means someone wrote it."""
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as err:
        if err.errno == errno.ENAMETOOLONG:
            return None  # no such name can exist
        raise
    return (info.st_dev, info.st_ino, info.st_mtime_ns, info.st_size)


def shown(path: Path) -> str:
    """The path as a user recognises it (``.`` becomes the folder's absolute path)."""
    return str(path) if path.name not in ("", ".", "..") else str(path.absolute())


def _marker_says(folder: Path | str, *texts: str) -> bool:
    """True when ``folder`` holds the :data:`MARKER` file (a regular file) with one of ``texts``."""
    marker = os.path.join(folder, MARKER)
    try:
        if not stat.S_ISREG(os.lstat(marker).st_mode) or os.lstat(marker).st_size > 4096:
            return False
        with open(marker, encoding="utf-8") as handle:
            return handle.read() in texts
    except (OSError, UnicodeDecodeError):
        return False


def _only_ours(folder: Path | str, allowed: re.Pattern[str]) -> bool:
    """True when everything in ``folder`` but the marker is a regular file named as ``allowed`` says."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return False
    for entry in entries:
        if entry.name == MARKER:
            continue
        if not allowed.match(entry.name) or not entry.is_file(follow_symlinks=False):
            return False
    return True


def made_by_tempo(folder: Path) -> bool:
    """True for a folder of PNG frames written by TEMPO: the marker with TEMPO's text and
    regular ``frame_*.png`` files, nothing else (a sub-folder named ``frame_9.png`` is not ours)."""
    if os.path.islink(folder) or not os.path.isdir(folder):
        return False
    return _marker_says(folder, MARKER_TEXT) and _only_ours(folder, _FRAME)


def mark_as_tempo_folder(folder: Path) -> None:
    (folder / MARKER).write_text(MARKER_TEXT, encoding="utf-8")


def _holds(folder: Path, item: Path) -> bool:
    return folder == item or folder in item.parents


def _same_file(path: Path, other: Path) -> bool:
    try:
        return os.path.samefile(path, other)
    except OSError:
        return False


def _check_not_an_input(path: Path, inputs: Sequence[str | os.PathLike[str]], what: str, source: bool) -> None:
    """Refuse ``path`` when it is one of ``inputs`` (by name or as the same file) or a folder holding one."""
    target = path.resolve()
    for item in inputs:
        original = Path(item).resolve()
        kind = "the source video" if source else "another input of this run"
        if target == original or _same_file(path, original):
            raise OutputError(f"The {what} {shown(path)} would overwrite {kind}; choose another name.")
        if _holds(target, original):
            raise OutputError(f"The {what} {shown(path)} is the folder that holds {kind}; choose a new name.")


def check_not_an_input(
    path: str | os.PathLike[str], inputs: Sequence[str | os.PathLike[str]], what: str = "output"
) -> None:
    """Refuse ``path`` when it is one of the run's ``inputs`` (a batch's other clips, a model
    file, ground truth), by name or as the same file under another name, or a folder holding one."""
    _check_not_an_input(Path(path), inputs, what, source=False)


def _check_link(path: Path, what: str) -> None:
    if os.path.islink(path) and not os.path.exists(path):
        raise OutputError(
            f"The {what} {shown(path)} is a symbolic link to {os.readlink(path)}, which does not exist; "
            "remove the link or choose another name."
        )


def check_output_path(
    path: Path,
    *,
    folder_output: bool,
    overwrite: bool,
    source: Path | None,
    inputs: Sequence[str | os.PathLike[str]] = (),
) -> None:
    """Refuse an output location that is or holds the source or another of the run's ``inputs``
    (a batch's other clips), leads nowhere (a dangling symbolic link), or is not ours to replace."""
    path = Path(path)
    what = "output"
    if source is not None:
        _check_not_an_input(path, [source], what, source=True)
    _check_not_an_input(path, inputs, what, source=False)
    _check_link(path, what)
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


def check_file_target(
    path: Path,
    *,
    overwrite: bool,
    inputs: Sequence[str | os.PathLike[str]] = (),
    what: str = "file",
    hint: str = "",
    source: str | os.PathLike[str] | None = None,
) -> None:
    """Refuse a file output (a report, a JSON result, a run's file) that is the ``source``
    video or one of ``inputs``, a folder, a dangling link, or an existing file without
    ``overwrite``. ``hint`` ends the sentence about an existing file (default: pass --overwrite)."""
    path = Path(path)
    if source is not None:
        _check_not_an_input(path, [source], what, source=True)
    _check_not_an_input(path, inputs, what, source=False)
    _check_link(path, what)
    if os.path.isdir(path):
        raise OutputError(f"The {what} {shown(path)} is a folder; choose a file name.")
    if os.path.lexists(path) and not overwrite:
        raise OutputError(f"{shown(path)} already exists; {hint or 'pass --overwrite to replace it'}.")


def temporary_name(path: Path, kind: str = "partial") -> Path:
    """A fresh short hidden name beside ``path`` that carries this process id (``kind``:
    partial/old; a partial keeps ``path``'s suffix). Short whatever ``path``'s length."""
    suffix = path.suffix if kind == "partial" and len(path.suffix) <= 16 else ""
    return path.with_name(f".tempo-{os.getpid()}-{secrets.token_hex(4)}.{kind}{suffix}")


def _staging_name(path: Path, kind: str = "partial") -> Path:
    return path.with_name(f".tempo-{os.getpid()}-{secrets.token_hex(4)}.{kind}")


def create_temp_folder(path: Path) -> Path:
    """An empty hidden folder beside ``path`` (umask permissions) holding the TEMPO marker:
    where a PNG sequence is written before :func:`place` renames it to ``path``."""
    for _ in range(100):
        temp = _staging_name(path)
        try:
            os.mkdir(temp)
        except FileExistsError:
            continue
        mark_as_tempo_folder(temp)
        return temp
    raise OutputError(f"Could not create a temporary folder in {path.absolute().parent}.")


def create_staged_file(path: Path) -> Path:
    """An empty file (umask permissions) to write ``path``'s content into: ``partial.EXT`` in a
    fresh hidden staging folder beside ``path`` that holds TEMPO's marker. :func:`place` moves
    it to ``path`` and removes the folder; :func:`discard` removes both."""
    for _ in range(100):
        folder = _staging_name(path)
        try:
            os.mkdir(folder)
        except FileExistsError:
            continue
        try:
            (folder / MARKER).write_text(STAGING_TEXT, encoding="utf-8")
            suffix = path.suffix if re.fullmatch(r"\.[A-Za-z0-9]{1,16}", path.suffix) else ""
            temp = folder / f"partial{suffix}"
            os.close(os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return temp
    raise OutputError(f"Could not create a temporary file in {path.absolute().parent}.")


def _is_staging(folder: Path) -> bool:
    return bool(_LEFTOVER.match(folder.name)) and _marker_says(folder, STAGING_TEXT)


def _drop_staging(folder: Path) -> None:
    """Remove a staging folder of this run once its file has moved out (marker only left)."""
    if _is_staging(folder) and _only_ours(folder, _STAGED):
        shutil.rmtree(folder, ignore_errors=True)


def discard(temp: Path) -> None:
    """Delete a temporary output of this run: a staged file and its staging folder, or a
    temporary PNG folder (only when it is ours: marker and frames)."""
    temp = Path(temp)
    if _is_staging(temp.parent):
        with contextlib.suppress(OSError):
            temp.unlink(missing_ok=True)
        _drop_staging(temp.parent)
    elif _LEFTOVER.match(temp.name) and made_by_tempo(temp):
        shutil.rmtree(temp, ignore_errors=True)


def write_file(
    path: str | os.PathLike[str],
    write: Callable[[Path], None],
    *,
    overwrite: bool,
    inputs: Sequence[str | os.PathLike[str]] = (),
    what: str = "file",
) -> Path:
    """Write one file through the safe-output path: :func:`check_file_target`, then ``write``
    (given the staged temporary file to fill), then :func:`place`. On any failure the
    temporary is removed and whatever was at ``path`` stays as it was."""
    path = Path(path)
    check_file_target(path, overwrite=overwrite, inputs=inputs, what=what)
    expected = identity(path)
    temp = create_staged_file(path)
    try:
        write(temp)
        place(temp, path, overwrite=overwrite, expected=expected)
    finally:
        discard(temp)
    return path


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


def _ours_to_remove(entry: os.DirEntry[str]) -> bool:
    """A leftover TEMPO wrote: a real folder holding the marker with TEMPO's text and nothing but
    its staged file or its frames (regular files); a user's look-alike is never ours."""
    if not entry.is_dir(follow_symlinks=False):
        return False
    if _marker_says(entry.path, STAGING_TEXT):
        return _only_ours(entry.path, _STAGED)
    return _marker_says(entry.path, MARKER_TEXT) and _only_ours(entry.path, _FRAME)


def remove_stale_leftovers(folder: Path, older_than_s: float = STALE_AFTER_S) -> list[str]:
    """Delete TEMPO's temporary outputs in ``folder`` left by killed runs: only hidden folders
    named ``.tempo-<pid>-<hex>.partial`` (or ``.old``) that hold TEMPO's marker and nothing
    but what TEMPO writes there, older than ``older_than_s``, whose process is gone. Returns
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
            if not _process_gone(int(match["pid"])) or not _ours_to_remove(entry):
                continue
            shutil.rmtree(entry.path)
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
    if now is None and os.path.islink(path):
        now = (0, 0, 0, -1)  # a link that leads nowhere is something there: never replaced
    if now is None and _move(temp, path):
        _drop_staging(temp.parent)
        return
    if now is not None and overwrite and now == expected and _replace(temp, path):
        _drop_staging(temp.parent)
        return
    for number in range(1, 1000):
        kept = _kept_name(path, number, temp.is_dir())
        if _move(temp, kept):
            _drop_staging(temp.parent)
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
    trash = _staging_name(path, "old")
    os.replace(path, trash)
    os.replace(temp, path)
    shutil.rmtree(trash, ignore_errors=True)
    return True
