"""Fill ``tempo train``'s decode cache with OpenCV, on a machine where PyAV is not installed.

The GPU machines lent to this project have PyTorch and OpenCV but not PyAV, and the training
videos and the PyAV wheel together are larger than what one call may carry (docs/gpu_training.md).
This script decodes the videos with OpenCV into the cache ``tempo train --cache_dir`` reads: the
same file names and format as :func:`tempo_core.training.clips.cached_clip`, the same size (area
downscaling), the display orientation (rotation metadata applied) and the frames' own timestamps,
as PyAV gives them (checked on cat.mp4: identical frames; fire.mp4, stored upside down, was
checked in the coded orientation before both switched to the display one: mean difference 0.8
of 255). Frame folders are read with Pillow as usual.

    python tools/decode_cache_opencv.py DATA_ROOT CACHE_DIR [--max_side 640] [--workers 8]

Run ``tempo train`` afterwards with the same ``--data_root`` path, ``--cache_dir`` and
``--max_side``: the cache key covers the path, so it must be the same string.
"""

from __future__ import annotations

import argparse
from multiprocessing import Pool
from pathlib import Path

from tempo_core.errors import InputError, MediaError
from tempo_core.training import clips
from tempo_core.training.cv2_video import decode_video_cv2 as decode_with_opencv


def fill_one(job: tuple[Path, Path, int]) -> str:
    source, cache_dir, max_side = job
    clips.decode_video = decode_with_opencv  # in this worker process only
    try:
        clip = clips.cached_clip(source, cache_dir, max_side)
    except (MediaError, InputError) as err:  # as tempo train: one bad clip does not stop the others
        return f"warning: {err} Skipped."
    return f"{source.name}: {len(clip)} frames of {clip.frame_size}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_root", type=Path)
    parser.add_argument("cache_dir", type=Path)
    parser.add_argument("--max_side", type=int, default=640, help="as tempo train --max_side")
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    jobs = [(source, args.cache_dir, args.max_side) for source in clips.find_clip_sources(args.data_root)]
    with Pool(args.workers) as pool:
        for line in pool.imap(fill_one, jobs):
            print(line, flush=True)


if __name__ == "__main__":
    main()
