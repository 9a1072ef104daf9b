"""Datasets, tested on clips made here with the frame number drawn in as the grey level."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from tempo_test_clips import make_clip

from tempo_core.errors import InputError
from tempo_core.training.clips import cached_clip
from tempo_core.training.datasets import (
    SeptupletValDataset,
    WindowBatchSampler,
    build_train_dataset,
    detect_layout,
    find_clip_sources,
)
from tempo_core.video.reader import VideoReader

FPS = 10
LEVEL0, STEP = 12, 14  # frame i has grey level LEVEL0 + STEP * i


def level(i: int) -> int:
    return LEVEL0 + STEP * (i % 17)  # distinct for the first 17 frames


def index_of(image: torch.Tensor) -> int:
    """The frame number drawn into an image (float [3, H, W] in [0, 1])."""
    return round((float(image.mean()) * 255 - LEVEL0) / STEP)


def encode_clip(path: Path, count: int = 16, size: int = 64) -> Path:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "0"}
        for i in range(count):
            image = np.full((size, size, 3), level(i), np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, FPS)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def write_frames(folder: Path, count: int, size: int = 40, name: str = "{:05d}.png", start: int = 0) -> Path:
    """Frame i (grey level ``level(i)``) saved as ``name.format(i + start)``."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        image = np.full((size, size + 8, 3), level(i), np.uint8)
        Image.fromarray(image).save(folder / name.format(i + start))
    return folder


def check_sample(sample: dict, n: int, crop: int, time_unit: float, augmented: bool) -> None:
    frames, times, target, target_time = (sample[k] for k in ("frames", "timestamps", "target", "target_time"))
    assert frames.shape == (n, 3, crop, crop) and target.shape == (3, crop, crop)
    assert times.shape == (n,) and target_time.shape == (1,)
    assert frames.dtype == torch.float32 and 0 <= float(frames.min()) <= float(frames.max()) <= 1
    idx = [index_of(f) for f in frames]
    tgt = index_of(target)
    assert torch.all(times[1:] > times[:-1]), "anchor times must increase"
    middle = (n - 1) // 2
    assert times[middle] < target_time[0] < times[middle + 1], "target inside the middle interval"
    if not augmented:
        assert idx == sorted(idx) and float(times[0]) == 0.0
        expected = torch.tensor([(i - idx[0]) * time_unit for i in idx])
        assert torch.allclose(times, expected, atol=1e-4)
        assert abs(float(target_time[0]) - (tgt - idx[0]) * time_unit) < 1e-4
    # with or without reversal, time is an affine function of the frame number
    slope = (times[-1] - times[0]) / (idx[-1] - idx[0])
    for i, t in zip([*idx, tgt], [*times.tolist(), float(target_time[0])], strict=True):
        assert abs((t - float(times[0])) - slope * (i - idx[0])) < 1e-4


def test_video_dataset_timestamps_and_targets(tmp_path):
    video = encode_clip(tmp_path / "clip.mp4")
    ds = build_train_dataset(
        video,
        n_frames=(2, 4),
        crop=32,
        max_stride=2,
        cache_dir=tmp_path / "cache",
        augment=False,
        log=lambda *_: None,
    )
    assert len(ds.clips[0]) == 16 and ds.n_frames == (2, 4)
    seen_fracs = set()
    for seed in range(24):
        n = (2, 4)[seed % 2]
        sample = ds[(seed % len(ds), n, seed)]
        check_sample(sample, n, 32, 1.0 / FPS, augmented=False)
        m = (n - 1) // 2
        t = sample["timestamps"]
        seen_fracs.add(round(float((sample["target_time"][0] - t[m]) / (t[m + 1] - t[m])), 3))
    assert len(seen_fracs) >= 3, "target times should vary"
    # the cache is reused: a second build memory-maps the .npy
    again = build_train_dataset(video, crop=32, cache_dir=tmp_path / "cache", log=lambda *_: None)
    assert isinstance(again.clips[0].frames, np.memmap)


def test_augmented_samples_stay_consistent_and_are_seeded(tmp_path):
    write_frames(tmp_path / "seq", 12)
    ds = build_train_dataset(tmp_path / "seq", n_frames=(2, 4), crop=32, cache_dir=None, log=lambda *_: None)
    reversed_seen = False
    for seed in range(30):
        sample = ds[(0, 4, seed)]
        check_sample(sample, 4, 32, 1.0, augmented=True)
        reversed_seen |= index_of(sample["frames"][0]) > index_of(sample["frames"][-1])
        again = ds[(0, 4, seed)]
        assert all(torch.equal(sample[k], again[k]) for k in sample)
    assert reversed_seen


def test_layout_detection(tmp_path):
    root = tmp_path / "train"
    (root / "videos").mkdir(parents=True)
    encode_clip(root / "videos" / "a.mp4", count=8)
    write_frames(root / "frames" / "street", 6)
    sources = find_clip_sources(root)
    assert sorted(s.name for s in sources) == ["a.mp4", "street"]
    assert detect_layout(root) == "clips"
    ds = build_train_dataset(root, crop=32, cache_dir=tmp_path / "c", log=lambda *_: None)
    assert len(ds) == 14 and ds.n_frames == (2,)  # 6 frames: too short for N=4


def make_vimeo(root: Path, kind: str, count: int) -> Path:
    frames = 3 if kind == "tri" else 7
    for seq in range(count):
        write_frames(root / "sequences" / "00001" / f"{seq:04d}", frames, 32, "im{}.png", start=1)
    entries = "\n".join(f"00001/{seq:04d}" for seq in range(count))
    (root / f"{kind[:3]}_trainlist.txt").write_text(entries + "\n")
    return root


def test_vimeo_layouts(tmp_path):
    tri = make_vimeo(tmp_path / "tri", "tri", 2)
    sep = make_vimeo(tmp_path / "sep", "sep", 3)
    assert detect_layout(tri) == "vimeo_triplet" and detect_layout(sep) == "vimeo_septuplet"
    ds = build_train_dataset(tri, n_frames=(2, 4), crop=32, log=lambda *_: None)
    assert ds.n_frames == (2,) and len(ds) == 2
    sample = ds[(1, 2, 5)]
    assert float(sample["target_time"][0]) == 1.0 and sample["timestamps"].tolist() == [0.0, 2.0]
    ds = build_train_dataset(sep, n_frames=(2, 4), crop=32, augment=False, log=lambda *_: None)
    assert ds.n_frames == (2, 4) and len(ds) == 3
    check_sample(ds[(0, 4, 1)], 4, 32, 1.0, augmented=False)
    check_sample(ds[(2, 2, 3)], 2, 32, 1.0, augmented=False)


def test_batch_sampler_is_reproducible_resumable_and_sharded(tmp_path):
    write_frames(tmp_path / "seq", 40)
    ds = build_train_dataset(tmp_path / "seq", n_frames=(2, 4), crop=32, log=lambda *_: None)
    sampler = WindowBatchSampler(ds, batch_size=4, seed=3)
    sampler.set_epoch(1)
    full = list(sampler)
    assert len(full) == len(sampler) == 10
    assert all(len({key[1] for key in batch}) == 1 for batch in full), "one N per batch"
    assert {batch[0][1] for batch in full} == {2, 4}
    sampler.set_epoch(1, skip=6)
    assert list(sampler) == full[6:]
    sampler.set_epoch(2)
    assert list(sampler) != full
    ranks = [WindowBatchSampler(ds, 4, seed=3, num_replicas=2, rank=r) for r in (0, 1)]
    slots = [{key[0] for batch in r for key in batch} for r in ranks]
    assert len(ranks[0]) == len(ranks[1]) == 5 and not slots[0] & slots[1]


def test_septuplet_validation_protocol(tmp_path):
    folder = tmp_path / "val" / "clip" / "00000"
    write_frames(folder, 7, 40, "im{}.png", start=1)
    ds = SeptupletValDataset(tmp_path / "val", n=2)
    sample = ds[0]
    assert sample["frames"].shape == (2, 3, 40, 48)
    assert [index_of(f) + 1 for f in sample["frames"]] == [3, 5] and index_of(sample["target"]) + 1 == 4
    assert sample["timestamps"].tolist() == [0.0, 1.0] and sample["target_time"].tolist() == [0.5]
    four = SeptupletValDataset(tmp_path / "val", n=4, crop=32)[0]
    assert four["frames"].shape == (4, 3, 32, 32)
    assert [index_of(f) + 1 for f in four["frames"]] == [1, 3, 5, 7]
    with pytest.raises(InputError):
        SeptupletValDataset(tmp_path / "nothing")


def test_septuplet_validation_needs_only_the_images_its_n_reads(tmp_path):
    for name, lacking in (("a", "im6.png"), ("b", "im4.png"), ("c", "im1.png")):
        write_frames(tmp_path / "val" / name, 7, 40, "im{}.png", start=1)
        (tmp_path / "val" / name / lacking).unlink()
    two, four = (SeptupletValDataset(tmp_path / "val", n=n) for n in (2, 4))
    assert [f.name for f in two.folders] == ["a", "c"] and [f.name for f in two.incomplete] == ["b"]
    assert [f.name for f in four.folders] == ["a"] and [f.name for f in four.incomplete] == ["b", "c"]
    assert two[1]["frames"].shape == (2, 3, 40, 48)


def test_cache_keeps_one_entry_per_source_when_the_source_changes(tmp_path):
    video = encode_clip(tmp_path / "clip.mp4")
    (tmp_path / "other").mkdir()
    other = encode_clip(tmp_path / "other" / "clip.mp4")  # same name, another source: kept
    cache = tmp_path / "cache"
    cached_clip(video, cache, max_side=0)
    cached_clip(other, cache, max_side=0)
    os.utime(video, (1_000_000_000, 1_000_000_000))  # a new copy of the source: a new key
    clip = cached_clip(video, cache, max_side=0)
    assert len(clip) == 16
    assert len(list(cache.glob("*.times.npy"))) == 2 and len(list(cache.glob("*.source"))) == 2
    assert not list(cache.glob("*.tmp*"))


@pytest.mark.parametrize("rotation", [90, 180])
def test_training_frames_are_decoded_upright_like_the_reader(tmp_path, rotation):
    """A phone clip stored sideways or upside down trains on the frames a user sees."""
    source = make_clip(tmp_path / f"rot{rotation}.mkv", count=4, width=48, height=32, rotation=rotation)
    clip = cached_clip(source, tmp_path / "cache", max_side=0)
    with VideoReader(source) as reader:
        for index in range(4):
            np.testing.assert_array_equal(np.asarray(clip.frames[index]), reader.read_frame(index))


def test_an_unreadable_clip_is_skipped_with_a_warning_naming_it(tmp_path):
    root = tmp_path / "data"
    write_frames(root / "good", 6, 32)
    (root / "broken.mp4").write_bytes(b"this is not a video " * 200)
    write_frames(root / "mixed", 2, 32)
    write_frames(root / "mixed", 1, 40, start=2)  # a frame of another size
    lines: list[str] = []
    ds = build_train_dataset(root, n_frames=(2,), crop=32, log=lines.append)
    assert [clip.name for clip in ds.clips] == ["good"]
    warnings = [line for line in lines if line.startswith("warning:")]
    assert len(warnings) == 2 and "broken.mp4" in warnings[0] and "mixed" in warnings[1]
    assert "invalid data found when processing input" in warnings[0] and "Errno" not in warnings[0]
    for path in (root / "good").iterdir():  # now no usable clip is left
        path.write_bytes(b"")
    with pytest.raises(InputError, match=r"None of the 3 videos or frame folders .*broken\.mp4: invalid data"):
        build_train_dataset(root, n_frames=(2,), crop=32, log=lambda *_: None)


def test_vimeo_sequences_lacking_images_are_skipped_with_a_warning(tmp_path):
    sep = make_vimeo(tmp_path / "sep", "sep", 3)
    (sep / "sequences" / "00001" / "0001" / "im4.png").unlink()
    lines: list[str] = []
    ds = build_train_dataset(sep, n_frames=(2,), crop=32, log=lines.append)
    assert len(ds) == 2 and "warning: 1 sequence lacks images and training goes on without: 00001/0001." in lines
    for folder in (sep / "sequences" / "00001").iterdir():
        (folder / "im1.png").unlink()
    with pytest.raises(InputError, match="None of the 3 sequences"):
        build_train_dataset(sep, n_frames=(2,), crop=32, log=lambda *_: None)


def test_a_symlink_loop_in_the_data_root_ends_and_each_clip_counts_once(tmp_path):
    """Issue 28 item 5: a data root with ``a -> .`` (and a clip linked under a second name)."""
    root = tmp_path / "data"
    root.mkdir()
    encode_clip(root / "take.mp4", count=8)
    write_frames(root / "frames" / "street", 5)
    (root / "a").symlink_to(".")  # the loop
    (root / "frames" / "up").symlink_to("..")  # a loop one level down
    (root / "same.mp4").symlink_to("take.mp4")  # one clip, two names
    (root / "street_again").symlink_to("frames/street")
    sources = find_clip_sources(root)
    assert sources == [root / "frames" / "street", root / "same.mp4"]
    ds = build_train_dataset(root, crop=32, cache_dir=tmp_path / "c", log=lambda *_: None)
    assert len(ds.clips) == 2 and len(ds) == 5 + 8


def test_a_huge_data_root_says_how_far_it_got_and_stops(tmp_path, monkeypatch):
    """``--data_root /`` printed nothing for a minute: the walk now reports progress every
    SCAN_PROGRESS_EVERY folders and stops past MAX_SCAN_FOLDERS with a sentence."""
    from tempo_core.training import clips

    monkeypatch.setattr(clips, "MAX_SCAN_FOLDERS", 7)
    monkeypatch.setattr(clips, "SCAN_PROGRESS_EVERY", 3)
    root = tmp_path / "everything"
    for i in range(4):
        (root / f"d{i}" / "sub").mkdir(parents=True)
    encode_clip(root / "d0" / "clip.mp4", count=4)
    lines: list[str] = []
    with pytest.raises(InputError, match=r"holds more than 7 folders; TEMPO stopped looking for clips there"):
        build_train_dataset(root, crop=32, log=lines.append)
    assert lines[:2] == [
        f"data: looking for clips under {root}: 3 folders looked at, clips found: 1",
        f"data: looking for clips under {root}: 6 folders looked at, clips found: 1",
    ]


def test_pipes_in_the_data_root_are_passed_over_and_a_pipe_root_is_refused(tmp_path):
    """A FIFO named like a video (or given as --data_root) would block the walk forever."""
    from fifo_guard import guarded_fifo

    root = tmp_path / "data"
    write_frames(root / "street", 4)
    with guarded_fifo(root / "live.mp4"), guarded_fifo(root / "street" / "00009.png"):
        assert find_clip_sources(root) == [root / "street"]
        ds = build_train_dataset(root, crop=32, log=lambda *_: None)
        assert len(ds) == 4
    with guarded_fifo(tmp_path / "pipe.mp4") as pipe, pytest.raises(InputError, match=r"is a named pipe \(FIFO\)"):
        build_train_dataset(pipe, crop=32, log=lambda *_: None)
