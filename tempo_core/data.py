"""Training and validation data: clips of frames -> ``{frames, timestamps, target, target_time}``.

Every source is a *clip*: a sequence of uint8 RGB frames with a time per frame.

* Vimeo-90K triplet / septuplet sequences are 3- / 7-frame clips read lazily from PNG
  (``sequences/<id>/imK.png`` named by ``tri_trainlist.txt`` / ``sep_trainlist.txt``).
* Video files are decoded once with PyAV (downscaled to ``max_side``) into a ``.npy`` cache and
  memory-mapped, so decoding is never the bottleneck; times are the true presentation times.
* Folders of frames (``*.png|jpg``) are cached the same way, times are frame indices.

A training sample picks N anchors (N from a set such as {2, 4}) spaced ``gap`` source frames
apart (``gap`` random in ``2 .. 2 * max_stride``) and a target frame strictly inside the middle
interval, so target times fall at varied fractions (1/2, 1/3, 3/4, ...). Augmentation: random
crop, horizontal flip, temporal reversal. Randomness comes only from the *key* a sample is asked
for, ``(slot, n, seed)``; :class:`WindowBatchSampler` makes these keys from ``(seed, epoch)``, so
the data order is reproducible, independent of the worker count, and resumable mid-epoch.
Timestamps are returned relative to the first anchor (the network normalizes them anyway).
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset, DistributedSampler

from tempo_core.errors import InputError, MediaError

VIDEO_EXTS = {".mp4", ".webm", ".mkv", ".mov", ".avi", ".m4v"}
IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".webp"}
LAYOUTS = ("auto", "vimeo_triplet", "vimeo_septuplet", "clips")


# ----------------------------------------------------------------------------- clips
class Clip:
    """A sequence of frames: ``times`` (float64 [T]), ``frame_size`` (H, W) and ``load``."""

    name: str
    times: np.ndarray

    def __len__(self) -> int:
        return len(self.times)

    @property
    def frame_size(self) -> tuple[int, int]:
        raise NotImplementedError

    def load(
        self, indices: Sequence[int], region: tuple[int, int, int] | None = None
    ) -> np.ndarray:
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

    def load(
        self, indices: Sequence[int], region: tuple[int, int, int] | None = None
    ) -> np.ndarray:
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
                raise MediaError(f"Could not read the image {self.paths[0]}: {err}.") from err
        return self._size

    def load(
        self, indices: Sequence[int], region: tuple[int, int, int] | None = None
    ) -> np.ndarray:
        return np.stack([_crop(read_image(self.paths[i]), region) for i in indices])


def read_image(path: Path, max_side: int = 0) -> np.ndarray:
    """An image file as uint8 ``[H, W, 3]``, downscaled so its longer side is <= ``max_side``."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            img = img.convert("RGB")
            if max_side and max(img.size) > max_side:
                w, h = _fit(img.size[0], img.size[1], max_side)
                img = img.resize((w, h), Image.BILINEAR, reducing_gap=2.0)
            return np.asarray(img, dtype=np.uint8).copy()
    except OSError as err:
        raise MediaError(f"Could not read the image {path}: {err}.") from err


def _fit(width: int, height: int, max_side: int) -> tuple[int, int]:
    """(w, h) scaled so the longer side is ``max_side``; both kept even."""
    scale = max_side / max(width, height)
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def decode_video(path: Path, max_side: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Decode every frame of a video: uint8 ``[T, H, W, 3]`` and PTS seconds ``[T]``."""
    import av

    frames, times = [], []
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaError(f"{path} has no video stream.")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            rate = float(stream.average_rate or 25)
            size = None
            for frame in container.decode(stream):
                if size is None:
                    size = (frame.width, frame.height)
                    if max_side and max(size) > max_side:
                        size = _fit(frame.width, frame.height, max_side)
                rgb = frame.reformat(
                    width=size[0], height=size[1], format="rgb24", interpolation="AREA"
                )
                frames.append(rgb.to_ndarray())
                times.append(float(frame.time) if frame.pts is not None else math.nan)
    except av.error.FFmpegError as err:
        raise MediaError(f"Could not decode the video {path}: {err}.") from err
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
    parts = [f"{source.resolve()}|{max_side}|v1"]
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


def cached_clip(source: Path, cache_dir: Path | None, max_side: int) -> ArrayClip:
    """A video file or a folder of frames as an :class:`ArrayClip`, decoded once and cached.

    With ``cache_dir`` the frames are stored as ``.npy`` and memory-mapped (shared by workers and
    later runs); without, they are held in memory.
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
    return ArrayClip(source.stem, np.load(frames_file, mmap_mode="r"), times)


def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS and p.is_file())


# ----------------------------------------------------------------------------- layouts
def detect_layout(root: Path) -> str:
    """``vimeo_septuplet`` / ``vimeo_triplet`` (list files present) or ``clips``."""
    if (root / "sep_trainlist.txt").exists():
        return "vimeo_septuplet"
    if (root / "tri_trainlist.txt").exists():
        return "vimeo_triplet"
    return "clips"


def find_clip_sources(root: Path) -> list[Path]:
    """Videos and frame folders under ``root``.

    Accepts a video file, a folder of frames, a folder of videos, a folder of frame folders, or a
    folder holding ``videos/`` and ``frames/`` (like ``shared/data/train``).
    """
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise InputError(f"The data folder {root} does not exist.")
    sources: list[Path] = []
    if len(list_images(root)) >= 3:
        sources.append(root)
    for child in sorted(root.iterdir()):
        if child.is_file() and child.suffix.lower() in VIDEO_EXTS:
            sources.append(child)
        elif child.is_dir() and not child.name.startswith("."):
            if len(list_images(child)) >= 3:
                sources.append(child)
            else:
                sources.extend(find_clip_sources(child))
    return sources


def vimeo_clips(root: Path, layout: str, split: str = "train") -> list[Clip]:
    """Vimeo-90K sequences named by the layout's list file (``train`` or ``test``)."""
    prefix, count = ("sep", 7) if layout == "vimeo_septuplet" else ("tri", 3)
    list_file = root / f"{prefix}_{split}list.txt"
    if not list_file.exists():
        raise InputError(f"{list_file} is missing; it is needed for the {layout} layout.")
    clips: list[Clip] = []
    for line in list_file.read_text().splitlines():
        entry = line.strip()
        if entry:
            folder = root / "sequences" / entry
            clips.append(ImageListClip(entry, [folder / f"im{i}.png" for i in range(1, count + 1)]))
    if not clips:
        raise InputError(f"{list_file} lists no sequences.")
    return clips


# ----------------------------------------------------------------------------- training set
@dataclass(frozen=True)
class WindowSpec:
    """Which frames a sample uses: anchor indices and the target index (into the clip)."""

    anchors: tuple[int, ...]
    target: int


def sample_window(length: int, n: int, max_stride: int, rng: np.random.Generator) -> WindowSpec:
    """N anchors ``gap`` frames apart and a target strictly inside the middle interval."""
    max_gap = max(2, 2 * max_stride)
    gaps = [g for g in range(2, max_gap + 1) if (n - 1) * g + 1 <= length]
    if not gaps:
        raise InputError(f"A clip of {length} frames is too short for N={n}.")
    gap = int(rng.choice(gaps))
    start = int(rng.integers(0, length - (n - 1) * gap))
    anchors = tuple(start + k * gap for k in range(n))
    middle = (n - 1) // 2
    target = anchors[middle] + int(rng.integers(1, gap))
    return WindowSpec(anchors, target)


def _to_tensor(frames: np.ndarray) -> torch.Tensor:
    """uint8 [k, H, W, 3] -> float [k, 3, H, W] in [0, 1]."""
    planar = np.ascontiguousarray(frames.transpose(0, 3, 1, 2))
    return torch.from_numpy(planar).float().div_(255.0)


def _fit_crop(stack: np.ndarray, crop: int) -> np.ndarray:
    """Upscale uint8 frames [k, H, W, 3] smaller than the crop so a crop fits (same aspect)."""
    h, w = stack.shape[1:3]
    if h >= crop and w >= crop:
        return stack
    scale = crop / min(h, w)
    size = (max(crop, math.ceil(h * scale)), max(crop, math.ceil(w * scale)))
    x = torch.from_numpy(np.ascontiguousarray(stack)).permute(0, 3, 1, 2).float()
    x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    return x.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


class WindowDataset(Dataset):
    """Random training windows from clips. Index with keys ``(slot, n, seed)``.

    Args:
        clips: the sources; each needs at least ``2 * (min(n_frames) - 1) + 1`` frames.
        n_frames: the N values batches are drawn from (e.g. ``(2, 4)``); values no clip can
            supply are dropped (a triplet only gives N=2).
        crop: square crop side (a multiple of 32); 0 keeps the full frame.
        max_stride: anchors are ``2 .. 2 * max_stride`` frames apart.
        augment: horizontal flip and temporal reversal, each with probability 1/2.
        slots_per_clip: ``"frames"`` gives every clip one slot per frame (long videos are seen
            more), ``"one"`` one slot per clip (Vimeo).
    """

    def __init__(
        self,
        clips: Sequence[Clip],
        n_frames: Sequence[int] = (2,),
        crop: int = 256,
        max_stride: int = 3,
        augment: bool = True,
        slots_per_clip: str = "frames",
    ) -> None:
        if not clips:
            raise InputError("No training clips were found.")
        self.clips = list(clips)
        self.crop, self.max_stride, self.augment = int(crop), int(max_stride), augment
        shortest = min(len(c) for c in self.clips)
        usable = sorted({int(n) for n in n_frames if 2 * (int(n) - 1) + 1 <= shortest and n >= 2})
        if not usable:
            raise InputError(
                f"The shortest clip has {shortest} frames: too few for N in {list(n_frames)}."
            )
        self.n_frames = tuple(usable)
        counts = [len(c) if slots_per_clip == "frames" else 1 for c in self.clips]
        self.slot_offsets = np.cumsum([0, *counts])

    def __len__(self) -> int:
        return int(self.slot_offsets[-1])

    def clip_of_slot(self, slot: int) -> Clip:
        return self.clips[int(np.searchsorted(self.slot_offsets, slot, side="right") - 1)]

    def __getitem__(self, key: tuple[int, int, int]) -> dict[str, torch.Tensor]:
        slot, n, seed = key
        rng = np.random.default_rng(seed)
        clip = self.clip_of_slot(slot)
        window = sample_window(len(clip), n, self.max_stride, rng)
        indices = [*window.anchors, window.target]
        times = torch.tensor(
            clip.times[indices] - clip.times[window.anchors[0]], dtype=torch.float64
        )
        crop = self.crop
        h, w = clip.frame_size
        if crop and h >= crop and w >= crop:  # read only the crop (memory-mapped caches)
            top, left = int(rng.integers(0, h - crop + 1)), int(rng.integers(0, w - crop + 1))
            stack = clip.load(indices, (top, left, crop))  # uint8 (N+1, crop, crop, 3)
        else:
            stack = clip.load(indices)  # uint8 (N+1, H, W, 3)
            if crop:  # smaller than the crop: upscale first
                stack = _fit_crop(stack, crop)
                h, w = stack.shape[1:3]
                top, left = int(rng.integers(0, h - crop + 1)), int(rng.integers(0, w - crop + 1))
                stack = stack[:, top : top + crop, left : left + crop]
        if self.augment and rng.random() < 0.5:
            stack = stack[:, :, ::-1]  # horizontal flip
        order = list(range(n))
        if self.augment and rng.random() < 0.5:  # temporal reversal: mirror time about the span
            order.reverse()
            times = times[n - 1] - times
            times = torch.cat([times[:n].flip(0), times[n:]])
        tensor = _to_tensor(stack[[*order, n]])  # (N+1, 3, H, W) float
        return {
            "frames": tensor[:n],
            "timestamps": times[:n].float(),
            "target": tensor[n],
            "target_time": times[n:].float(),
        }


class WindowBatchSampler:
    """Batches of keys ``(slot, n, seed)``; one N per batch, reproducible from ``(seed, epoch)``.

    Slots are shuffled by a :class:`DistributedSampler` (``num_replicas`` / ``rank`` for DDP,
    ``drop_last``), so every rank gets the same number of batches. ``set_epoch(epoch, skip)``
    starts the epoch's order at batch ``skip`` (used on resume).
    """

    def __init__(
        self,
        dataset: WindowDataset,
        batch_size: int,
        seed: int = 0,
        num_replicas: int = 1,
        rank: int = 0,
        samples_per_epoch: int | None = None,
    ) -> None:
        self.dataset, self.batch_size, self.seed = dataset, int(batch_size), int(seed)
        self.num_replicas, self.rank = num_replicas, rank
        self.samples_per_epoch = samples_per_epoch or len(dataset)
        self.epoch, self.skip = 0, 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        self.epoch, self.skip = int(epoch), int(skip)

    def _slots(self) -> list[int]:
        size = len(self.dataset)
        repeats = math.ceil(self.samples_per_epoch / size)
        slots: list[int] = []
        for r in range(repeats):
            shuffler = DistributedSampler(
                range(size),
                self.num_replicas,
                self.rank,
                shuffle=True,
                seed=self.seed + 7919 * r,
                drop_last=False,
            )
            shuffler.set_epoch(self.epoch)
            slots.extend(shuffler)
        return slots[: max(1, self.samples_per_epoch // self.num_replicas)]

    def __len__(self) -> int:
        per_rank = max(1, self.samples_per_epoch // self.num_replicas)
        return max(1, per_rank // self.batch_size)

    def __iter__(self) -> Iterator[list[tuple[int, int, int]]]:
        slots = self._slots()
        if len(slots) < self.batch_size:  # tiny datasets: repeat so one batch exists
            slots = (slots * math.ceil(self.batch_size / len(slots)))[: self.batch_size]
        choices = self.dataset.n_frames
        for b in range(self.skip, len(self)):
            rng = np.random.default_rng([self.seed, self.epoch, b])
            n = int(choices[rng.integers(len(choices))])
            keys = []
            for i, slot in enumerate(slots[b * self.batch_size : (b + 1) * self.batch_size]):
                sample_seed = int(
                    np.random.SeedSequence([self.seed, self.epoch, b, self.rank, i]).generate_state(
                        1
                    )[0]
                )
                keys.append((int(slot), n, sample_seed))
            yield keys


def build_train_dataset(
    root: Path,
    layout: str = "auto",
    n_frames: Sequence[int] = (2, 4),
    crop: int = 256,
    max_stride: int = 3,
    max_side: int = 640,
    cache_dir: Path | None = None,
    augment: bool = True,
    log=print,
) -> WindowDataset:
    """The training set for ``--data_root`` (layout detected unless given)."""
    root = Path(root)
    if not root.exists():
        raise InputError(f"The training data {root} does not exist.")
    if layout == "auto":
        layout = detect_layout(root) if root.is_dir() else "clips"
    if layout in ("vimeo_triplet", "vimeo_septuplet"):
        clips = vimeo_clips(root, layout, "train")
        log(f"data: {layout} with {len(clips)} sequences from {root}")
        return WindowDataset(clips, n_frames, crop, max_stride, augment, slots_per_clip="one")
    if layout != "clips":
        raise InputError(f"Unknown data layout {layout!r}; choose one of {', '.join(LAYOUTS)}.")
    sources = find_clip_sources(root)
    if not sources:
        raise InputError(f"No videos or frame folders were found in {root}.")
    clips: list[Clip] = []
    for source in sources:
        clip = cached_clip(source, cache_dir, max_side)
        log(
            f"data: {source.name}: {len(clip)} frames {clip.frames.shape[2]}x{clip.frames.shape[1]}"
        )
        clips.append(clip)
    return WindowDataset(clips, n_frames, crop, max_stride, augment, slots_per_clip="frames")


# ----------------------------------------------------------------------------- validation
def find_septuplets(root: Path) -> list[Path]:
    """Folders holding ``im1.png .. im7.png`` (``sep_testlist.txt`` if present, else a search)."""
    root = Path(root)
    list_file = root / "sep_testlist.txt"
    if list_file.exists():
        entries = [s.strip() for s in list_file.read_text().splitlines() if s.strip()]
        return [root / "sequences" / e for e in entries]
    return sorted(p.parent for p in root.rglob("im7.png") if (p.parent / "im1.png").exists())


class SeptupletValDataset(Dataset):
    """The septuplet protocol: N=2 (im3, im5 at t=0, 1) or N=4 (im1..im7 at t=-1..2) -> im4 at 0.5.

    ``crop`` > 0 takes a centre crop of that side (cheap validation); 0 keeps the full frame
    (the caller pads to a multiple of 32). ``limit`` keeps the first sequences only.
    """

    def __init__(self, root: Path, n: int = 2, crop: int = 0, limit: int = 0) -> None:
        if n not in (2, 4):
            raise InputError("The septuplet protocol is defined for N=2 and N=4.")
        self.folders = find_septuplets(root)
        if not self.folders:
            raise InputError(f"No septuplets (im1.png .. im7.png) were found under {root}.")
        if limit:
            self.folders = self.folders[:limit]
        self.n, self.crop = n, crop

    def __len__(self) -> int:
        return len(self.folders)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        folder = self.folders[index]
        ids, times = ((3, 5), (0.0, 1.0)) if self.n == 2 else ((1, 3, 5, 7), (-1.0, 0.0, 1.0, 2.0))
        stack = np.stack([read_image(folder / f"im{i}.png") for i in (*ids, 4)])
        if self.crop:
            stack = _fit_crop(stack, self.crop)
            h, w = stack.shape[1:3]
            top, left = (h - self.crop) // 2, (w - self.crop) // 2
            stack = stack[:, top : top + self.crop, left : left + self.crop]
        stack = _to_tensor(stack)
        return {
            "frames": stack[: self.n].contiguous(),
            "timestamps": torch.tensor(times),
            "target": stack[self.n].contiguous(),
            "target_time": torch.tensor([0.5]),
        }
