"""Soak test: a local emoscan server (rate limits raised) under Locust's mixed traffic
(benchmarks/locustfile.py) for a given time, with the server's resident memory sampled every
second. Prints requests, failures, 5xx answers and p50/p95/p99 per endpoint, and memory at the
first fifth against the end.

    cd benchmarks && PYTHONPATH=. python bench_soak.py [--minutes 10] [--users 16]
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _machine import cpu_description
from bench_service import local_server

HERE = Path(__file__).resolve().parent


def tree_rss_mb(root_pid: int) -> float:
    """Resident memory of a process and all its descendants, in MB (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    total, stack = 0, [root_pid]
    page = os.sysconf("SC_PAGE_SIZE")
    while stack:
        pid = stack.pop()
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * page
        except (OSError, IndexError):
            pass
        stack += children.get(pid, [])
    return total / 1e6


def soak(minutes: float, users: int) -> dict:
    """Run the soak; return its figures (also printed)."""
    with local_server([], 1, with_process=True) as (url, proc), tempfile.TemporaryDirectory() as tmp:
        samples: list[tuple[float, float]] = []
        done = threading.Event()

        def sample() -> None:
            start = time.perf_counter()
            while not done.wait(1.0):
                samples.append((time.perf_counter() - start, tree_rss_mb(proc.pid)))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        locust = subprocess.run(
            [str(Path(sys.executable).with_name("locust")), "-f", str(HERE / "locustfile.py"), "--headless",
             "-u", str(users), "-r", str(max(1, users // 4)), "-t", f"{int(minutes * 60)}s", "--host", url,
             "--csv", str(Path(tmp) / "soak"), "--only-summary", "--stop-timeout", "30"],
            cwd=HERE, env={**os.environ, "PYTHONPATH": str(HERE)}, capture_output=True, text=True,
            timeout=minutes * 60 + 180)
        done.set()
        sampler.join()
        with open(Path(tmp) / "soak_stats.csv") as handle:
            stats = list(csv.DictReader(handle))
        with open(Path(tmp) / "soak_failures.csv") as handle:
            failures = list(csv.DictReader(handle))
    server_errors = sum(int(f["Occurrences"]) for f in failures if re.search(r"\b5\d\d\b", f["Error"]))
    connection_errors = sum(int(f["Occurrences"]) for f in failures if "ConnectionError" in f["Error"]
                            or "RemoteDisconnected" in f["Error"])
    fifth = [mb for t, mb in samples if t <= minutes * 12] or [0.0]
    result = {"stats": stats, "failures": failures, "server_errors": server_errors,
              "connection_errors": connection_errors, "rss_first_fifth": fifth[-1],
              "rss_end": samples[-1][1] if samples else 0.0, "locust_exit": locust.returncode,
              "locust_output": locust.stderr[-3000:]}
    print(f"CPU: {cpu_description()}; {users} users for {minutes:g} min against {url}")
    print("| endpoint | requests | failures | p50 ms | p95 ms | p99 ms | requests/s |\n|---|---:|---:|---:|---:|---:|---:|")
    for row in stats:
        print(f"| {row['Name']} | {row['Request Count']} | {row['Failure Count']} | {row['50%']} | {row['95%']} | "
              f"{row['99%']} | {float(row['Requests/s']):.1f} |")
    print(f"5xx answers: {server_errors}; connection errors: {connection_errors}; failures: "
          f"{[(f['Name'], f['Error'], f['Occurrences']) for f in failures]}")
    print(f"server memory (all its processes): {result['rss_first_fifth']:.0f} MB after the first fifth, "
          f"{result['rss_end']:.0f} MB at the end")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--users", type=int, default=16)
    args = parser.parse_args()
    soak(args.minutes, args.users)


if __name__ == "__main__":
    main()
