"""Training clips: sequences of uint8 frames with a time per frame, and where they come from.

* :class:`ImageListClip`: frames read lazily from image files (Vimeo-90K sequences named by
  ``tri_trainlist.txt`` / ``sep_trainlist.txt``); times are frame indices.
* :class:`ArrayClip` via :func:`cached_clip`: a video file decoded once with PyAV (true
  presentation times, downscaled to ``max_side``) or a folder of frames, stored as ``.npy`` in a
  cache folder and memory-mapped, so workers and later runs share it and a crop reads only the
  crop. The cache key covers the path, size and mtime of the source and ``max_side``.
* :func:`find_clip_sources` / :func:`detect_layout`: what a ``--data_root`` holds.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from tempo_core.errors import InputError, MediaError, describe
from tempo_core.frame_sizes import fit_size
from tempo_core.local_files import ffmpeg_url, open_regular, special_file_kind

VIDEO_EXTS = {".mp4", ".webm", ".mkv", ".mov", ".avi", ".m4v"}
IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".webp"}
LAYOUTS = ("auto", "vimeo_triplet", "vimeo_septuplet", "clips")
# The walk of a --data_root (find_clip_sources): at most this many folders, a progress line every
# SCAN_PROGRESS_EVERY. Walking 100,000 empty folders took 6 s on the 2-core dev machine, `/` there
# (about 20,000 folders, /proc and /sys included) 2.4 s; a real clips root holds a few hundred.
MAX_SCAN_FOLDERS = 100_000
SCAN_PROGRESS_EVERY = 5_000


class Clip:
    """A sequence of frames: ``times`` (float64 [T]), ``frame_size`` (H, W) and ``load``."""

    name: str
    times: np.ndarray

    def __len__(self) -> int:
        return len(self.times)

    @property
    def frame_size(self) -> tuple[int, int]:
        raise NotImplementedError

    def load(self, indices: Sequence[int], region: tuple[int, int, int] | None = None) -> np.ndarray:
        """uint8 ``[k, H, W, 3]``; ``region=(top, left, size)`` reads only that square."""
        raise NotImplementedError


def _crop(frames: np.ndarray, region: tuple[int, int, int] | None) -> np.ndarray:
    if region is None:
        return frames
    top, left, size = region
    return frames[..., top : top + size, left : left + size, :]


class ArrayClip(Clip):
    """Frames in an array (usually a memory-mapped ``.npy`` cache: a crop reads only the crop)."""

    def __init__(self, name: str, frames: np.ndarray, times: np.ndarray) -> None:
        if len(frames) != len(times):
            raise ValueError("frames and times differ in length")
        self.name, self.frames, self.times = name, frames, np.asarray(times, np.float64)

    @property
    def frame_size(self) -> tuple[int, int]:
        return int(self.frames.shape[1]), int(self.frames.shape[2])

    def load(self, indices: Sequence[int], region: tuple[int, int, int] | None = None) -> np.ndarray:
        return np.stack([np.asarray(_crop(self.frames[i], region)) for i in indices])


class ImageListClip(Clip):
    """Frames read lazily from image files (Vimeo-90K sequences); times are frame indices."""

    def __init__(self, name: str, paths: Sequence[Path]) -> None:
        self.name, self.paths = name, list(paths)
        self.times = np.arange(len(self.paths), dtype=np.float64)
        self._size: tuple[int, int] | None = None

    @property
    def frame_size(self) -> tuple[int, int]:
        if self._size is None:
            from PIL import Image

            try:
                with Image.open(self.paths[0]) as img:
                    self._size = (img.size[1], img.size[0])
            except OSError as err:
                raise MediaError(f"Could not read the image {self.paths[0]}: {describe(err)}.") from err
        return self._size

    def load(self, indices: Sequence[int], region: tuple[int, int, int] | None = None) -> np.ndarray:
        return np.stack([_crop(read_image(self.paths[i]), region) for i in indices])


def read_image(path: Path, max_side: int = 0) -> np.ndarray:
    """An image file as uint8 ``[H, W, 3]``, downscaled so its longer side is <= ``max_side``."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            img = img.convert("RGB")
            if max_side and max(img.size) > max_side:
                w, h = fit_size(img.size[0], img.size[1], max_side)
                img = img.resize((w, h), Image.BILINEAR, reducing_gap=2.0)
            return np.asarray(img, dtype=np.uint8).copy()
    except OSError as err:
        raise MediaError(f"Could not read the image {path}: {describe(err)}.") from err


def decode_video(path: Path, max_side: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Decode every frame of a video: uint8 ``[T, H, W, 3]`` (display orientation: rotation metadata
    applied, as :class:`tempo_core.video.reader.VideoReader` does) and PTS seconds ``[T]``."""
    try:
        import av
    except ImportError:  # no PyAV (the lent GPU machines): OpenCV decodes it the same way
        from tempo_core.training.cv2_video import decode_video_cv2

        return decode_video_cv2(path, max_side)

    from tempo_core.video.reader import display_rotation, rotate_upright

    frames, times = [], []
    try:
        with av.open(ffmpeg_url(path)) as container:
            if not container.streams.video:
                raise MediaError(f"{path} has no video stream.")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            rate = float(stream.average_rate or 25)
            size, rotation = None, 0
            for frame in container.decode(stream):
                if size is None:
                    size, rotation = (frame.width, frame.height), display_rotation(frame)
                    if max_side and max(size) > max_side:
                        size = fit_size(frame.width, frame.height, max_side)
                rgb = frame.reformat(width=size[0], height=size[1], format="rgb24", interpolation="AREA")
                frames.append(rotate_upright(rgb.to_ndarray(), rotation))
                times.append(float(frame.time) if frame.pts is not None else math.nan)
    except (av.error.FFmpegError, OSError) as err:
        raise MediaError(f"Could not decode the video {path}: {describe(err)}.") from err
    if len(frames) < 3:
        raise MediaError(f"{path} has fewer than 3 frames; it cannot be used for training.")
    times_arr = np.asarray(times, np.float64)
    if not np.all(np.isfinite(times_arr)) or np.any(np.diff(times_arr) <= 0):
        # no usable timestamps: fall back to the nominal frame rate
        times_arr = np.arange(len(frames), dtype=np.float64) / rate
    return np.stack(frames), times_arr


def _cache_key(source: Path, max_side: int) -> str:
    """Changes when the source (file, or the images of a folder) or ``max_side`` changes."""
    files = [source] if source.is_file() else list_images(source)
    parts = [f"{source.resolve()}|{max_side}|v2"]  # v2: rotation metadata applied
    parts += [f"{f.name}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in files]
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:12]


def _save_npy_atomic(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            np.save(fh, array)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _prune_stale_entries(cache_dir: Path, origin: str, current_stem: str) -> None:
    """Delete the cache entries of the same source and ``max_side`` (``origin``) under older keys.

    A source that changed (or was copied anew: the key covers its mtime) would otherwise leave a
    full decoded copy behind for every version. An entry still memory-mapped by a running job stays
    readable on POSIX; where the system refuses the deletion, the entry is left for next time.
    """
    for record in cache_dir.glob("*.source"):
        stem = record.name[: -len(".source")]
        if stem == current_stem or record.read_text(encoding="utf-8") != origin:
            continue
        for stale in (cache_dir / f"{stem}.npy", cache_dir / f"{stem}.times.npy", record):
            with contextlib.suppress(OSError):
                stale.unlink(missing_ok=True)


def cached_clip(source: Path, cache_dir: Path | None, max_side: int) -> ArrayClip:
    """A video file or a folder of frames as an :class:`ArrayClip`, decoded once and cached.

    With ``cache_dir`` the frames are stored as ``.npy`` and memory-mapped (shared by workers and
    later runs); without, they are held in memory. Writing a new entry deletes the entries of
    older versions of the same source (see :func:`_prune_stale_entries`).
    """
    if cache_dir is not None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        stem = f"{source.stem}-{_cache_key(source, max_side)}"
        frames_file, times_file = cache_dir / f"{stem}.npy", cache_dir / f"{stem}.times.npy"
        if frames_file.exists() and times_file.exists():
            return ArrayClip(source.stem, np.load(frames_file, mmap_mode="r"), np.load(times_file))
    if source.is_file():
        frames, times = decode_video(source, max_side)
    else:
        paths = list_images(source)
        images = [read_image(p, max_side) for p in paths]
        if len({image.shape for image in images}) > 1:
            raise InputError(f"The frames in {source} differ in size; a sequence needs one size.")
        frames = np.stack(images)
        times = np.arange(len(paths), dtype=np.float64)
    if cache_dir is None:
        return ArrayClip(source.stem, frames, times)
    _save_npy_atomic(times_file, times)
    _save_npy_atomic(frames_file, frames)
    origin = f"{source.resolve()}|{max_side}"
    _prune_stale_entries(cache_dir, origin, stem)
    (cache_dir / f"{stem}.source").write_text(origin, encoding="utf-8")
    return ArrayClip(source.stem, np.load(frames_file, mmap_mode="r"), times)


def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS and p.is_file())


def detect_layout(root: Path) -> str:
    """``vimeo_septuplet`` / ``vimeo_triplet`` (list files present) or ``clips``."""
    if (root / "sep_trainlist.txt").exists():
        return "vimeo_septuplet"
    if (root / "tri_trainlist.txt").exists():
        return "vimeo_triplet"
    return "clips"


def find_clip_sources(root: Path, log: Callable[[str], None] | None = None) -> list[Path]:
    """Videos and frame folders under ``root``, each once.

    Accepts a video file, a folder of frames, a folder of videos, a folder of frame folders, or a
    folder holding ``videos/`` and ``frames/`` (like ``shared/data/train``). Symbolic links are
    followed, but no folder or file is taken twice (by device and inode), so a link back up the
    tree (``a -> .``) ends the walk instead of repeating it, and a clip reached by two names is
    one clip. Pipes, devices and hidden folders are passed over. ``log`` hears a line every
    :data:`SCAN_PROGRESS_EVERY` folders; past :data:`MAX_SCAN_FOLDERS` folders the walk stops
    with an :class:`InputError` (``--data_root /``: point it at the clips instead).
    """
    kind = special_file_kind(root)
    if kind is not None:
        raise InputError(f"The training data {root} is {kind}, not a video file or a folder.")
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise InputError(f"The data folder {root} does not exist.")
    return _SourceWalk(root, log).run()


class _SourceWalk:
    """One depth-first walk of a data root, in name order (see :func:`find_clip_sources`)."""

    def __init__(self, root: Path, log: Callable[[str], None] | None) -> None:
        self.root, self.log = root, log
        self.seen: set[tuple[int, int]] = set()  # (st_dev, st_ino) of every folder and video taken
        self.folders = 0
        self.sources: list[Path] = []

    def run(self) -> list[Path]:
        stack: list[tuple[Path, bool]] = [(self.root, True)]  # (path, is a folder)
        while stack:
            path, folder = stack.pop()
            if not self._first_visit(path):
                continue
            if not folder:
                self.sources.append(path)
                continue
            self._count_folder()
            images, children = _folder_entries(path)
            if images >= 3:
                self.sources.append(path)
                if path != self.root:
                    continue  # a frame folder: its subfolders are not looked into
            stack.extend(reversed(children))
        return self.sources

    def _first_visit(self, path: Path) -> bool:
        try:
            info = os.stat(path)
        except (OSError, ValueError):
            return False
        key = (info.st_dev, info.st_ino)
        if key in self.seen:
            return False
        self.seen.add(key)
        return True

    def _count_folder(self) -> None:
        self.folders += 1
        if self.folders > MAX_SCAN_FOLDERS:
            raise InputError(
                f"{self.root} holds more than {MAX_SCAN_FOLDERS:,} folders; TEMPO stopped looking for clips "
                "there. Point --data_root at the folder that holds your videos or frame folders."
            )
        if self.log is not None and self.folders % SCAN_PROGRESS_EVERY == 0:
            self.log(
                f"data: looking for clips under {self.root}: {self.folders:,} folders looked at, "
                f"clips found: {len(self.sources)}"
            )


def _folder_entries(folder: Path) -> tuple[int, list[tuple[Path, bool]]]:
    """How many images ``folder`` holds, and its videos and visible subfolders in name order as
    ``(path, is a folder)`` (an unreadable folder holds nothing)."""
    images, children = 0, []
    try:
        with os.scandir(folder) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                try:
                    is_dir, is_file = entry.is_dir(), entry.is_file()  # follow links; False for pipes
                except OSError:
                    continue
                suffix = os.path.splitext(entry.name)[1].lower()
                if is_file and suffix in IMAGE_EXTS:
                    images += 1
                elif is_file and suffix in VIDEO_EXTS:
                    children.append((folder / entry.name, False))
                elif is_dir and not entry.name.startswith("."):
                    children.append((folder / entry.name, True))
    except OSError:
        pass
    return images, children


def vimeo_clips(root: Path, layout: str, split: str = "train") -> list[Clip]:
    """Vimeo-90K sequences named by the layout's list file (``train`` or ``test``)."""
    prefix, count = ("sep", 7) if layout == "vimeo_septuplet" else ("tri", 3)
    list_file = root / f"{prefix}_{split}list.txt"
    if not list_file.exists():
        raise InputError(f"{list_file} is missing; it is needed for the {layout} layout.")
    clips: list[Clip] = []
    try:
        with open_regular(list_file) as handle:
            text = handle.read().decode("utf-8", errors="replace")
    except OSError as err:
        raise InputError(f"{list_file} cannot be read ({describe(err)}).") from None
    for line in text.splitlines():
        entry = line.strip()
        if entry:
            folder = root / "sequences" / entry
            clips.append(ImageListClip(entry, [folder / f"im{i}.png" for i in range(1, count + 1)]))
    if not clips:
        raise InputError(f"{list_file} lists no sequences.")
    return clips
