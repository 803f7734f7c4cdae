"""Networks built as the export stage builds them (one averaging graph, ONNX, int8) and timed at
batch 1 through the serving classifier; shared by the benchmarks that compare networks."""

from __future__ import annotations

import functools
from pathlib import Path

import keras
import numpy as np

from bench_model import ms_per_face  # benchmarks/ is on sys.path when a benchmark runs
from emoscan.data.split import load_split
from emoscan.training.common.artifacts import FLOAT_ONNX_FILE, ONNX_FILE
from emoscan.training.nets.architectures import average_ensemble
from emoscan.training.release.export import export_bundle, int8_calibration_images
from emoscan.training.release.quantize import quantize_int8


@functools.cache
def export_inputs(split_dir: str, seed: int, calibration_images: int) -> tuple[np.ndarray, np.ndarray]:
    """The export stage's parity-check images (validation) and int8 calibration images (training),
    read once per process however many graphs are built."""
    x_val, _ = load_split(split_dir, "val")
    params = {"split": {"output_dir": split_dir, "seed": seed}, "export": {"calibration_images": calibration_images}}
    return x_val[:256], int8_calibration_images(params)


def served_int8(members: list[keras.Model], params: dict, out: Path, image_limit: int | None = None) -> Path:
    """Write the members' average as the export stage builds it (one ONNX graph, int8) to `out`;
    `image_limit` keeps only the first that many parity-check and calibration images (graphs too
    large for the stage's counts in memory)."""
    model = members[0] if len(members) == 1 else average_ensemble(members)
    check, calibration = export_inputs(params["split"]["output_dir"], params["split"]["seed"],
                                       params["export"]["calibration_images"])
    export_bundle(model, out, check[:image_limit], params["export"]["onnx_tolerance"], onnx_file=FLOAT_ONNX_FILE,
                  classes=tuple(params["classes"]))
    quantize_int8(out / FLOAT_ONNX_FILE, out / ONNX_FILE, calibration[:image_limit])
    return out


def lowest_medians(predicts: dict, inputs: np.ndarray, rounds: int = 5, repeats: int = 200) -> dict:
    """Batch-1 ms per face of each predictor: timed in turn for `rounds` rounds, each keeping its
    lowest median. Load from other work on a shared machine only adds time, and it comes and goes,
    so every predictor gets timed in each phase of it."""
    times: dict = {}
    for _ in range(rounds):
        for key, predict in predicts.items():
            times[key] = min(times.get(key, np.inf), ms_per_face(predict, inputs, repeats=repeats))
    return times
