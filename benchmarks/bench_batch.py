"""`emoscan batch` on Ray Data against a single-process loop over `EmotionRecognizer`, on the same
files: a folder of `--images` photos, each one to three FER-2013 test faces (upscaled to 100-200
pixels) on a 640x480 canvas. Then, with `--video-minutes`, one long 640x480 video through
`emoscan batch` at `--frame-rate`, with the peak memory of Ray's worker processes.

    python benchmarks/bench_batch.py [--images 2000] [--repeats 3] [--video-minutes 10]

Prints faces per second of each (the median of `--repeats` runs, alternated), the speed-up, Ray's
start-up time (paid once per job, not counted in the rate), and Ray's overhead per file: the job's
wall time times its workers, less the time the workers spent analysing, per file.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import cpu_description  # noqa: E402
from _media import write_video  # noqa: E402

FER_ZIP = Path(__file__).resolve().parents[2] / "shared" / "data" / "fer2013" / "fer2013.zip"


def make_photos(folder: Path, count: int, seed: int = 0) -> list[Path]:
    """`count` 640x480 JPEGs of 1-3 FER-2013 test faces each, at random sizes and places."""
    rng = np.random.default_rng(seed)
    with zipfile.ZipFile(FER_ZIP) as zf:
        names = sorted(n for n in zf.namelist() if n.lower().endswith(".jpg") and n.split("/")[-3:-2] == ["test"])
        faces = [cv2.imdecode(np.frombuffer(zf.read(n), np.uint8), cv2.IMREAD_GRAYSCALE)
                 for n in rng.choice(names, size=min(len(names), 3 * count), replace=False)]
    paths = []
    for i in range(count):
        canvas = np.full((480, 640, 3), rng.integers(80, 200), np.uint8)
        for slot in range(int(rng.integers(1, 4))):
            size = int(rng.integers(100, 201))
            x = slot * 213 + int(rng.integers(0, max(1, 213 - size)))
            y = int(rng.integers(0, 480 - size))
            face = cv2.resize(faces[(3 * i + slot) % len(faces)], (size, size), interpolation=cv2.INTER_CUBIC)
            canvas[y:y + size, x:x + size] = face[..., None]
        paths.append(folder / f"photo_{i:05d}.jpg")
        cv2.imwrite(str(paths[-1]), canvas)
    return paths


def loop(paths: list[Path]) -> tuple[int, float]:
    """Faces found and seconds of one process analysing the files one after another."""
    import emoscan

    recognizer = emoscan.EmotionRecognizer()
    recognizer.detect_emotions(str(paths[0]))  # warm-up
    started = time.perf_counter()
    faces = sum(len(recognizer.detect_emotions(str(p))) for p in paths)
    return faces, time.perf_counter() - started


def on_ray(folder: Path, output: Path, **kwargs):
    """The batch job's report and its files table."""
    import pandas as pd

    from emoscan.batch import run_batch

    report = run_batch([str(folder)], output, progress=False, **kwargs)
    return report, pd.read_parquet(output.with_name(output.stem + ".files.parquet"))


def worker_rss_mb() -> float:
    """Resident memory of Ray's worker processes (the batch workers), in MB."""
    import psutil

    total = 0.0
    for proc in psutil.process_iter(["cmdline", "memory_info"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if "ray::" in cmdline and "FileAnalyzer" in cmdline and proc.info["memory_info"]:
            total += proc.info["memory_info"].rss / 1e6
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--video-minutes", type=float, default=0.0, help="0: no video run")
    parser.add_argument("--frame-rate", type=float, default=5.0)
    parser.add_argument("--files-per-task", type=int, nargs="*", default=[],
                        help="batch.files_per_task values to compare (default: params.yaml's)")
    args = parser.parse_args()
    import ray

    print(f"CPU: {cpu_description()}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        folder.mkdir()
        paths = make_photos(folder, args.images)
        started = time.perf_counter()
        ray.init(include_dashboard=False, log_to_driver=False)
        print(f"Ray {ray.__version__} started in {time.perf_counter() - started:.1f} s with "
              f"{ray.cluster_resources().get('CPU', 0):.0f} CPUs")
        per_task = args.files_per_task or [None]
        loop_rates, ray_rates, overheads = [], {n: [] for n in per_task}, {n: [] for n in per_task}
        for repeat in range(args.repeats):
            faces, seconds = loop(paths)
            loop_rates.append(faces / seconds)
            print(f"  run {repeat + 1}: loop {faces} faces in {seconds:.1f} s ({loop_rates[-1]:.1f}/s)")
            for n in per_task:
                kwargs = {"files_per_task": n} if n else {}
                report, files = on_ray(folder, Path(tmp) / f"run{repeat}-{n}" / "results.parquet", **kwargs)
                workers = int(ray.cluster_resources().get("CPU", 1))
                ray_rates[n].append(report.faces_per_second)
                overheads[n].append((report.seconds * workers - files["seconds"].sum()) / len(files) * 1000)
                print(f"  run {repeat + 1}: batch{f' (files_per_task {n})' if n else ''} {report.faces} faces"
                      f" in {report.seconds:.1f} s ({ray_rates[n][-1]:.1f}/s), {report.failed} failed")
        loop_rate = statistics.median(loop_rates)
        for n in per_task:
            ray_rate = statistics.median(ray_rates[n])
            print(f"{args.images} photos, median of {args.repeats}: loop {loop_rate:.1f} faces/s, emoscan batch"
                  f"{f' (files_per_task {n})' if n else ''} {ray_rate:.1f} faces/s: {ray_rate / loop_rate:.2f}x;"
                  f" Ray overhead {statistics.median(overheads[n]):.1f} ms per file")

        if args.video_minutes:
            video_dir = Path(tmp) / "video"
            video_dir.mkdir()
            write_video(video_dir / "long.mp4", frames=int(args.video_minutes * 60 * 30))
            samples: list[tuple[float, float]] = []
            done = threading.Event()

            def sample() -> None:
                while not done.wait(1.0):
                    samples.append((time.perf_counter(), worker_rss_mb()))

            threading.Thread(target=sample, daemon=True).start()
            started = time.perf_counter()
            report, files = on_ray(video_dir, Path(tmp) / "video_out" / "results.parquet", frame_rate=args.frame_rate)
            done.set()
            seen = [(t - started, mb) for t, mb in samples if mb > 0]
            fifth = [mb for t, mb in seen if t <= report.seconds / 5] or [0.0]
            print(f"{args.video_minutes:g} min 640x480 video at 30 fps, {args.frame_rate:g} analysed frames/s: "
                  f"{int(files['frames_analysed'].sum())} frames, {report.faces} faces in {report.seconds:.1f} s; "
                  f"worker memory {fifth[-1]:.0f} MB after the first fifth, {seen[-1][1] if seen else 0:.0f} MB "
                  f"at the end, peak {max((mb for _, mb in seen), default=0):.0f} MB")
        ray.shutdown()


if __name__ == "__main__":
    main()
