"""HTTP benchmark of an emoscan server: /detect latency (p50/p95) and requests/s for a 640x480 JPEG
with one face under concurrency, and /detect-video analysed frames/s.

With --serve, it starts `bentoml serve` itself on a free loopback port, with params.yaml's rate
limits raised and any `inference` setting overridden (e.g. --set detector=yuface), and stops it:

    python benchmarks/bench_service.py --serve [--set detector=yunet_s detector_threads=1] --concurrency 4
    python benchmarks/bench_service.py --url http://127.0.0.1:3000    # a server already running
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import requests
import yaml

from _media import face_frame, write_video

REPO = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def local_server(overrides: list[str], workers: int, with_process: bool = False):
    """`bentoml serve` of this checkout on a free loopback port, rate limits raised, `inference`
    settings overridden by KEY=VALUE; yields its URL (and the server process, `with_process`)."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["service"].update(rate_limit_detect_per_min=1_000_000, rate_limit_video_per_min=1_000_000)
    for item in overrides:
        key, _, value = item.partition("=")
        params["inference"][key] = yaml.safe_load(value)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "params.yaml").write_text(yaml.safe_dump(params))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {**os.environ, "EMOSCAN_PARAMS": str(Path(tmp) / "params.yaml"), "MAX_WORKERS": str(workers),
               "BENTOML_HOME": str(Path(tmp) / "bentoml")}
        bentoml = Path(sys.executable).with_name("bentoml")
        proc = subprocess.Popen([str(bentoml), "serve", "service:Emoscan", "--port", str(port), "--host", "127.0.0.1"],
                                cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(120):
                try:
                    if requests.get(f"{url}/readyz", timeout=2).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                time.sleep(1)
            yield (url, proc) if with_process else url
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:3000")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--serve", action="store_true", help="start a server of this checkout for the run")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="inference settings (--serve)")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes (--serve)")
    args = parser.parse_args()
    if args.serve:
        with local_server(args.set, args.workers) as url:
            args.url = url
            print(f"server: {url}, workers {args.workers}, inference overrides {args.set or 'none'}")
            run(args)
    else:
        run(args)


def run(args: argparse.Namespace) -> None:
    jpeg = cv2.imencode(".jpg", face_frame(), [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
    session = requests.Session()
    local = threading.local()

    def call(_: int) -> tuple[float, int]:
        if not hasattr(local, "session"):  # one connection per client thread
            local.session = requests.Session()
        start = time.perf_counter()
        r = local.session.post(f"{args.url}/detect", files={"image": ("face.jpg", jpeg, "image/jpeg")}, timeout=60)
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
