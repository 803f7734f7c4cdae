"""The loop bench_end_to_end.py runs over its image sets, for emoscan in this environment and for
the `fer` package in its own (`_fer_worker.py`): standard library only, so both can import it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def analyse_sets(sets: Mapping[str, Any], detect: Callable[[Any], Iterable[Any]],
                 describe: Callable[[Any], tuple[list[int], dict[str, float]]], repeats: int) -> dict[str, dict]:
    """For each named set of images: every image's faces, found once by `detect(image)` and each
    `describe`d as (box x, y, width, height; probability by class name); and for a set of one image,
    the seconds of `repeats` more calls of `detect` on it."""
    results = {}
    for name, batch in sets.items():
        faces = [[describe(face) for face in detect(image)] for image in batch]
        seconds = []
        for _ in range(repeats if len(batch) == 1 else 0):
            start = time.perf_counter()
            detect(batch[0])
            seconds.append(time.perf_counter() - start)
        results[name] = {"faces": faces, "seconds": seconds}
    return results
