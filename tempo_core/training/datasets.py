"""Training and validation data: clips of frames -> ``{frames, timestamps, target, target_time}``.

Every source is a *clip* (:mod:`tempo_core.training.clips`): a sequence of uint8 RGB frames with a time
per frame. Vimeo-90K triplet / septuplet sequences are 3- / 7-frame clips read lazily from PNG;
video files (decoded once with PyAV, true presentation times) and folders of frames are cached
as memory-mapped ``.npy``, so decoding is never the bottleneck.

A training sample picks N anchors (N from a set such as {2, 4}) spaced ``gap`` source frames
apart (``gap`` random in ``2 .. 2 * max_stride``) and a target frame strictly inside the middle
interval, so target times fall at varied fractions (1/2, 1/3, 3/4, ...). Augmentation: random
crop, horizontal flip, temporal reversal. Randomness comes only from the *key* a sample is asked
for, ``(slot, n, seed)``; :class:`WindowBatchSampler` makes these keys from ``(seed, epoch)``, so
the data order is reproducible, independent of the worker count, and resumable mid-epoch.
Timestamps are returned relative to the first anchor (the network normalizes them anyway).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset, DistributedSampler

from tempo_core.errors import InputError, MediaError
from tempo_core.training.clips import (
    LAYOUTS,
    Clip,
    ImageListClip,
    cached_clip,
    detect_layout,
    find_clip_sources,
    read_image,
    vimeo_clips,
)

__all__ = [
    "LAYOUTS",
    "SeptupletValDataset",
    "WindowBatchSampler",
    "WindowDataset",
    "build_train_dataset",
    "detect_layout",
    "find_clip_sources",
    "find_septuplets",
    "sample_window",
]


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
            raise InputError(f"The shortest clip has {shortest} frames: too few for N in {list(n_frames)}.")
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
        times = torch.tensor(clip.times[indices] - clip.times[window.anchors[0]], dtype=torch.float64)
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
                sample_seed = int(np.random.SeedSequence([self.seed, self.epoch, b, self.rank, i]).generate_state(1)[0])
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
        listed = vimeo_clips(root, layout, "train")
        clips = complete_sequences(listed, log)
        if not clips:
            raise InputError(f"None of the {len(listed)} sequences listed under {root} has all its images.")
        log(f"data: {layout} with {len(clips)} sequences from {root}")
        return WindowDataset(clips, n_frames, crop, max_stride, augment, slots_per_clip="one")
    if layout != "clips":
        raise InputError(f"Unknown data layout {layout!r}; choose one of {', '.join(LAYOUTS)}.")
    sources = find_clip_sources(root, log)
    if not sources:
        raise InputError(f"No videos or frame folders were found in {root}.")
    clips, problems = readable_clips(sources, cache_dir, max_side, log)
    if not clips:
        raise InputError(f"None of the {len(sources)} videos or frame folders in {root} can be used: {problems[0]}")
    return WindowDataset(clips, n_frames, crop, max_stride, augment, slots_per_clip="frames")


def readable_clips(
    sources: Sequence[Path], cache_dir: Path | None, max_side: int, log: Callable[[str], None]
) -> tuple[list[Clip], list[str]]:
    """The clips of ``sources`` (decoded once, cached) and why the others cannot be used: a source
    that cannot be read is skipped with a warning naming it, and training goes on without it."""
    clips: list[Clip] = []
    problems: list[str] = []
    for source in sources:
        try:
            clip = cached_clip(source, cache_dir, max_side)
        except (MediaError, InputError) as err:
            problems.append(str(err))
            log(f"warning: {err} Skipped; training goes on without it.")
            continue
        height, width = clip.frame_size
        log(f"data: {source.name}: {len(clip)} frames {width}x{height}")
        clips.append(clip)
    return clips, problems


def complete_sequences(clips: Sequence[Clip], log: Callable[[str], None]) -> list[Clip]:
    """The Vimeo-90K sequences whose images all exist; the others are skipped with a warning
    naming the first few."""
    complete: list[Clip] = []
    lacking: list[str] = []
    for clip in clips:
        whole = not isinstance(clip, ImageListClip) or all(p.is_file() for p in clip.paths)
        (complete.append(clip) if whole else lacking.append(clip.name))
    if lacking:
        more = f" and {len(lacking) - 5} more" if len(lacking) > 5 else ""
        what = "1 sequence lacks" if len(lacking) == 1 else f"{len(lacking)} sequences lack"
        log(f"warning: {what} images and training goes on without: {', '.join(lacking[:5])}{more}.")
    return complete


# ----------------------------------------------------------------------------- validation
def find_septuplets(root: Path) -> list[Path]:
    """Septuplet folders (``sep_testlist.txt`` if present, else folders holding any of ``im4.png ..
    im7.png``), complete or not: :class:`SeptupletValDataset` checks the images its N reads."""
    root = Path(root)
    list_file = root / "sep_testlist.txt"
    if list_file.exists():
        entries = [s.strip() for s in list_file.read_text().splitlines() if s.strip()]
        return [root / "sequences" / e for e in entries]
    markers = {f"im{k}.png" for k in range(4, 8)}
    return sorted({p.parent for p in root.rglob("im*.png") if p.name in markers})


class SeptupletValDataset(Dataset):
    """The septuplet protocol: N=2 (im3, im5 at t=0, 1) or N=4 (im1..im7 at t=-1..2) -> im4 at 0.5.

    ``crop`` > 0 takes a centre crop of that side (cheap validation); 0 keeps the full frame
    (the caller pads to a multiple of 32). ``limit`` keeps the first sequences only. A folder
    lacking an image this N reads is left out and listed in ``incomplete``.
    """

    INPUTS = {2: ((3, 5), (0.0, 1.0)), 4: ((1, 3, 5, 7), (-1.0, 0.0, 1.0, 2.0))}

    def __init__(self, root: Path, n: int = 2, crop: int = 0, limit: int = 0) -> None:
        if n not in (2, 4):
            raise InputError("The septuplet protocol is defined for N=2 and N=4.")
        found = find_septuplets(root)
        if not found:
            raise InputError(f"No septuplets (im1.png .. im7.png) were found under {root}.")
        reads = (*self.INPUTS[n][0], 4)
        #: septuplet folders lacking an image this N reads: left out (the caller names them)
        complete = [all((f / f"im{i}.png").is_file() for i in reads) for f in found]
        self.incomplete = [f for f, whole in zip(found, complete, strict=True) if not whole]
        self.folders = [f for f, whole in zip(found, complete, strict=True) if whole]
        if not self.folders:
            raise InputError(f"None of the {len(found)} septuplets under {root} holds the images N={n} reads.")
        if limit:
            self.folders = self.folders[:limit]
        self.n, self.crop = n, crop

    def __len__(self) -> int:
        return len(self.folders)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        folder = self.folders[index]
        ids, times = self.INPUTS[self.n]
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
