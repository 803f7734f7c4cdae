"""Memory and speed over a long video: a 640x480 video of `--minutes` minutes at 30 fps (one real
face panning), analysed at `--frame-rate` frames per second through the Python API (the code of
`emoscan video` and /detect-video). The process's resident memory is sampled every second:
flat memory means the RSS at the end is close to the RSS after the first fifth.

    cd benchmarks && PYTHONPATH=. python bench_long_video.py [--minutes 10] [--frame-rate 5]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path

from _machine import cpu_description
from _media import write_video


def rss_mb() -> float:
    """This process's resident set size in MB (Linux /proc)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--frame-rate", type=float, default=5.0)
    args = parser.parse_args()
    import emoscan

    recognizer = emoscan.EmotionRecognizer()
    with tempfile.TemporaryDirectory() as tmp:
        video = write_video(Path(tmp) / "long.mp4", frames=int(args.minutes * 60 * 30))
        samples: list[tuple[float, float]] = []
        done = threading.Event()

        def sample() -> None:
            while not done.wait(1.0):
                samples.append((time.perf_counter(), rss_mb()))

        sampler = threading.Thread(target=sample, daemon=True)
        start = time.perf_counter()
        sampler.start()
        analysis = recognizer.analyze_video(str(video), frame_rate=args.frame_rate)
        elapsed = time.perf_counter() - start
        done.set()
        sampler.join()
    fifth = [mb for t, mb in samples if t - start <= elapsed / 5] or [rss_mb()]
    print(f"CPU: {cpu_description()}")
    print(f"{args.minutes:g} min 640x480 video at 30 fps, analysed at {args.frame_rate:g} frames/s: "
          f"{len(analysis.results)} frames in {elapsed:.1f} s ({len(analysis.results) / elapsed:.0f} analysed frames/s)")
    print(f"resident memory: {fifth[-1]:.0f} MB after the first fifth, {samples[-1][1] if samples else rss_mb():.0f} MB "
          f"at the end, peak {max(mb for _, mb in samples) if samples else rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
