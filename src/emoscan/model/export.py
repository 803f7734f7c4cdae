"""Export a trained Keras model to the serving bundle: ONNX graph, label order and preprocessing
spec, so that serving needs ONNX Runtime only. Parity with Keras is verified on real inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from emoscan import CLASSES
from emoscan.inference.classifier import TTA_MODES

ONNX_FILE = "model.onnx"
LABELS_FILE = "labels.json"
PREPROCESSING_FILE = "preprocessing.json"

#: How a face crop becomes the network input; read by `emoscan.inference.preprocess`.
PREPROCESSING_SPEC = {
    "color": "grayscale",
    "size": [48, 48],
    "interpolation": "area",
    "scale": 1.0 / 255.0,
    "offset": 0.0,
    "layout": "NHWC",
    "dtype": "float32",
}


class ExportParityError(RuntimeError):
    """The ONNX graph does not reproduce the Keras outputs."""


def export_bundle(model, out_dir: Path, check_images: np.ndarray, tolerance: float, tta: str = "none") -> dict:
    """Write model.onnx, labels.json and preprocessing.json; return the parity report.

    `check_images` are uint8 (N, 48, 48) images fed to both Keras and ONNX Runtime. `tta` (one of
    TTA_MODES) goes into preprocessing.json, so that serving applies the test-time augmentation
    the evaluate stage measured.
    """
    if tta not in TTA_MODES:
        raise ValueError(f"test-time augmentation {tta!r}: expected one of {TTA_MODES}")
    import onnxruntime as ort

    out_dir.mkdir(parents=True, exist_ok=True)
    x = check_images.astype(np.float32)[..., None] * np.float32(PREPROCESSING_SPEC["scale"])
    expected = np.asarray(model(x, training=False))  # also builds the graph before export
    model.export(str(out_dir / ONNX_FILE), format="onnx", verbose=False)
    session = ort.InferenceSession(str(out_dir / ONNX_FILE), providers=["CPUExecutionProvider"])
    actual = session.run(None, {session.get_inputs()[0].name: x})[0]
    max_diff = float(np.abs(actual - expected).max())
    same_top1 = float((actual.argmax(1) == expected.argmax(1)).mean())
    report = {"images": int(len(x)), "max_abs_diff": max_diff, "top1_agreement": same_top1,
              "tolerance": tolerance}
    if max_diff > tolerance:
        raise ExportParityError(f"ONNX outputs differ from Keras by {max_diff:.2e} (> {tolerance:.0e})")
    (out_dir / LABELS_FILE).write_text(json.dumps(list(CLASSES)))
    spec = {**PREPROCESSING_SPEC, "test_time_augmentation": tta}
    (out_dir / PREPROCESSING_FILE).write_text(json.dumps(spec, indent=2))
    return report
