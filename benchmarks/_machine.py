"""The CPU a benchmark ran on, printed with its figures: latencies moved 2x between the
machines they ran on (the first 2-core CPU: 1.24 ms per face; the AMD EPYC (Zen 5) of later runs: 0.56 ms)."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_description() -> str:
    """'<model name> (family F, model M), N cores usable' from /proc/cpuinfo, or platform's guess."""
    info = Path("/proc/cpuinfo")
    fields: dict[str, str] = {}
    if info.is_file():
        for line in info.read_text().splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    name = fields.get("model name") or platform.processor() or platform.machine()
    family = f" (family {fields['cpu family']}, model {fields['model']})" if "cpu family" in fields else ""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()  # Linux only
    return f"{name}{family}, {cores} cores usable"
