"""How long a synthesis takes to stop after Cancel, at the clip's resolution, on this machine.

    .venv/bin/python benchmarks/cancel_latency.py ../shared/data/train/videos/dog.mp4 [--trials 5]

Encodes two neighbouring frames of CLIP once with the bundled model (``--device``, default CPU),
then for each trial starts a synthesis of the time between them on a thread, presses Cancel
(``should_cancel`` of :meth:`tempo_core.inference.Interpolator.synthesize`, as the app's export
passes it) after a delay spread over the first seconds, and prints the seconds from Cancel to the
synthesis raising :class:`tempo_core.errors.Cancelled`. Also prints the uncancelled synthesis
time and the load average, since a busy machine stretches every stage.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from collections.abc import Sequence

import numpy as np

from tempo_core.errors import Cancelled
from tempo_core.inference import Interpolator
from tempo_core.video.reader import VideoReader


def main(argv: Sequence[str] | None = None) -> list[float]:
    """Print the figures; return the latencies (s) of the cancels that stopped a synthesis."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip")
    parser.add_argument("--frame", type=int, default=90)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    with VideoReader(args.clip, cache_size=2) as reader:
        frames = [reader.read_frame(args.frame), reader.read_frame(args.frame + 1)]
        times = [float(reader.frame_times[args.frame]), float(reader.frame_times[args.frame + 1])]
    interpolator = Interpolator.from_checkpoint(None, device=args.device)
    encoded = interpolator.encode(frames, times)
    target = 0.5 * (times[0] + times[1])
    interpolator.synthesize(encoded, [target])  # warm-up: the first call allocates
    started = time.perf_counter()
    interpolator.synthesize(encoded, [target])
    whole = time.perf_counter() - started
    height, width = frames[0].shape[:2]
    print(f"{width}x{height} on {interpolator.device_name}: one synthesis {whole:.2f} s, load {os.getloadavg()}")
    latencies = []
    for delay in np.linspace(0.1, max(0.2, 0.3 * whole), args.trials):
        cancel = threading.Event()
        stopped: dict[str, float] = {}

        def work(event: threading.Event = cancel, out: dict[str, float] = stopped) -> None:
            try:
                interpolator.synthesize(encoded, [target], should_cancel=event.is_set)
            except Cancelled:
                out["at"] = time.perf_counter()

        thread = threading.Thread(target=work)
        thread.start()
        time.sleep(float(delay))
        pressed = time.perf_counter()
        cancel.set()
        thread.join()
        if "at" not in stopped:
            print(f"Cancel {delay:.2f} s into the synthesis: it had finished ({time.perf_counter() - pressed:.2f} s)")
            continue
        latencies.append(stopped["at"] - pressed)
        print(f"Cancel {delay:.2f} s into the synthesis: stopped {latencies[-1]:.2f} s later")
    if latencies:
        print(f"worst {max(latencies):.2f} s, median {float(np.median(latencies)):.2f} s over {len(latencies)} cancels")
    return latencies


if __name__ == "__main__":
    main()
