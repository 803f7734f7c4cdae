"""What this CPU can do fast, read from /proc/cpuinfo: where bfloat16 training is native and which
integer dot product ONNX Runtime's int8 kernels use.

The two kinds of x86 CPU emoscan runs on differ where it matters:
- AVX-512 BF16 / AMX (recent Intel Xeon): bfloat16 matrix work is native, mixed precision trains
  about 2.3x faster than float32; without them bfloat16 is emulated and many times slower.
- AVX-512 VNNI / AVX-VNNI / AMX-INT8: int8 products accumulate straight into int32. Without VNNI
  (AVX2-only CPUs such as AMD EPYC before Zen 4), ONNX Runtime's u8 x s8 kernels sum pairs of
  products in int16 (VPMADDUBSW), which saturates unless the weights stay within +-64; the
  shipped graphs are quantized so (emoscan.training.release.quantize).
"""

from __future__ import annotations

import functools
import os
import platform
from pathlib import Path

#: Flags that make bfloat16 matrix work native.
BFLOAT16_FLAGS = ("avx512_bf16", "amx_bf16")
#: The flags a benchmark's figures depend on, in the order they are printed.
REPORTED_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8")


@functools.cache
def _cpuinfo() -> dict[str, str]:
    info = Path("/proc/cpuinfo")
    fields: dict[str, str] = {}
    if info.is_file():
        for line in info.read_text().splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    return fields


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags as Linux names them (empty where /proc/cpuinfo is missing)."""
    return frozenset(_cpuinfo().get("flags", "").split())


def has_native_bfloat16() -> bool:
    """Whether bfloat16 matrix work is native here (AVX-512 BF16 or AMX), not emulated."""
    return any(flag in cpu_flags() for flag in BFLOAT16_FLAGS)


def cpu_name() -> str:
    """The CPU's model name with its family and model numbers, or platform's guess."""
    fields = _cpuinfo()
    name = fields.get("model name") or platform.processor() or platform.machine()
    if "cpu family" in fields:
        name += f" (family {fields['cpu family']}, model {fields['model']})"
    return name


def cpu_kind() -> str:
    """The CPU's name and the flags that decide emoscan's speed, e.g. 'Intel(R) Xeon(R) Processor
    (family 6, model 207); avx2 avx512f avx512_vnni avx512_bf16 amx_bf16 amx_int8; N cores usable'."""
    flags = cpu_flags()
    shown = " ".join(f for f in REPORTED_FLAGS if f in flags) or "no AVX2"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()  # Linux only
    return f"{cpu_name()}; {shown}; {cores} cores usable"
