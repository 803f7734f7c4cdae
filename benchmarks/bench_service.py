"""HTTP benchmark of a running emoscan server: /detect latency (p50/p95) and requests/s for a
640x480 JPEG with one face under concurrency, and /detect-video analysed frames/s.

    bentoml serve service:Emoscan &        # in another shell (raise the rate limits for this run)
    python benchmarks/bench_service.py --url http://127.0.0.1:3000 --requests 200 --concurrency 4
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import requests

from _media import face_frame, write_video


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:3000")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    jpeg = cv2.imencode(".jpg", face_frame(), [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
    session = requests.Session()

    def call(_: int) -> tuple[float, int]:
        start = time.perf_counter()
        r = session.post(f"{args.url}/detect", files={"image": ("face.jpg", jpeg, "image/jpeg")}, timeout=60)
        return time.perf_counter() - start, r.status_code

    call(0)
    start = time.perf_counter()
    with ThreadPoolExecutor(args.concurrency) as pool:
        results = list(pool.map(call, range(args.requests)))
    wall = time.perf_counter() - start
    latencies = [t for t, status in results if status == 200]
    if len(latencies) < len(results):
        print(f"warning: {len(results) - len(latencies)} non-200 answers (rate limit?)")
    print(f"/detect 640x480 JPEG, 1 face, {args.requests} requests, concurrency {args.concurrency}: "
          f"p50 {1000 * statistics.median(latencies):.1f} ms, p95 {1000 * np.percentile(latencies, 95):.1f} ms, "
          f"{len(latencies) / wall:.1f} requests/s")

    with tempfile.TemporaryDirectory() as tmp:
        video = write_video(Path(tmp) / "bench.mp4", frames=150)
        start = time.perf_counter()
        r = session.post(f"{args.url}/detect-video", files={"video": ("bench.mp4", video.read_bytes())},
                         data={"frame_rate": "30"}, timeout=300)
        elapsed = time.perf_counter() - start
    r.raise_for_status()
    frames = r.json()["summary"]["total_frames"]
    print(f"/detect-video 640x480 MP4, 5 s at 30 fps, frame_rate=30: {frames} frames in {elapsed:.2f} s "
          f"-> {frames / elapsed:.0f} analysed frames/s (upload included)")


if __name__ == "__main__":
    main()
