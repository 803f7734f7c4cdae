"""The CPU a benchmark ran on, printed with its figures: its model and the flags that decide the
figures (AVX-512 VNNI and AMX for int8, AVX-512 BF16 and AMX for bfloat16 training). Latencies
moved 2x between the machines they ran on, and int8 kernels differ with VNNI."""

from __future__ import annotations

from emoscan.hardware import cpu_kind


def cpu_description() -> str:
    """'<model name> (family F, model M); <flags that matter>; N cores usable'."""
    return cpu_kind()


if __name__ == "__main__":
    print(cpu_description())
