"""Emotion classification with ONNX Runtime from a model bundle (model.onnx, labels.json,
preprocessing.json) as written by the register stage and shipped under models/."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from emoscan.labels import CLASSES
from emoscan.inference.preprocess import INPUT_SIZE, SCALE
from emoscan.inference.runtime import cpu_session


#: Test-time augmentations: "flip" averages each face's probabilities with its mirror image's.
TTA_MODES = ("none", "flip")


class ModelBundleError(RuntimeError):
    """The model bundle is missing or inconsistent."""


def predict_with_tta(predict: Callable[[np.ndarray], np.ndarray], batch: np.ndarray, tta: str) -> np.ndarray:
    """`predict` on an (N, 48, 48, 1) batch, averaged with the mirrored batch when `tta` is "flip"."""
    if tta != "flip":
        return np.asarray(predict(batch))
    # one call on both views: one ONNX Runtime dispatch per face instead of two
    probs = np.asarray(predict(np.concatenate([batch, batch[:, :, ::-1, :]])))
    return (probs[:len(batch)] + probs[len(batch):]) / 2.0


def apply_class_offsets(probs: np.ndarray, offsets: np.ndarray | None) -> np.ndarray:
    """softmax(log(probs) + offsets), the bundle's class calibration (probs unchanged when None)."""
    if offsets is None:
        return probs
    logits = np.log(np.clip(probs, 1e-12, 1.0)) + offsets
    logits -= logits.max(axis=1, keepdims=True)
    shifted = np.exp(logits)
    return (shifted / shifted.sum(axis=1, keepdims=True)).astype(np.float32)


class EmotionClassifier:
    """Batch classifier: (N, 48, 48, 1) float32 in [0, 1] -> (N, classes) probabilities (the classes
    of the bundle's labels.json, FER-2013's seven without one), with the
    test-time augmentation named in the bundle's preprocessing.json (none when absent; the export
    stage writes `export.tta` there), unless `tta` ("none" or "flip") overrides it for a measurement
    (the evaluate stage scores both), then the bundle's class offsets
    (`class_log_offsets`, fitted on the validation split by the export stage) unless
    `calibrated` is False."""

    def __init__(self, bundle_dir: Path, threads: int = 1, tta: str | None = None, calibrated: bool = True) -> None:
        bundle_dir = Path(bundle_dir)
        onnx_path = bundle_dir / "model.onnx" if bundle_dir.is_dir() else bundle_dir
        bundle_dir = onnx_path.parent
        if not onnx_path.is_file():
            raise ModelBundleError(f"no model.onnx in {bundle_dir}")
        labels_file = bundle_dir / "labels.json"
        self.labels = tuple(json.loads(labels_file.read_text())) if labels_file.is_file() else CLASSES
        if len(self.labels) < 2 or len(set(self.labels)) != len(self.labels):
            raise ModelBundleError(f"{labels_file}: expected distinct class names, got {self.labels}")
        spec_file = bundle_dir / "preprocessing.json"
        spec = json.loads(spec_file.read_text()) if spec_file.is_file() else {}
        if spec and (spec.get("size") != [INPUT_SIZE, INPUT_SIZE] or abs(spec.get("scale", SCALE) - SCALE) > 1e-9):
            raise ModelBundleError(f"{spec_file}: unsupported preprocessing {spec}")
        self.tta = spec.get("test_time_augmentation", "none")
        if self.tta not in TTA_MODES:
            raise ModelBundleError(f"{spec_file}: unknown test_time_augmentation {self.tta!r}, expected one of {TTA_MODES}")
        if tta is not None:
            if tta not in TTA_MODES:
                raise ValueError(f"test-time augmentation {tta!r}: expected one of {TTA_MODES}")
            self.tta = tta
        offsets = spec.get("class_log_offsets")
        if offsets is not None and (not isinstance(offsets, list) or len(offsets) != len(self.labels)):
            raise ModelBundleError(f"{spec_file}: class_log_offsets must list {len(self.labels)} numbers, got {offsets!r}")
        self.class_offsets = np.asarray(offsets, np.float64) if offsets is not None and calibrated else None
        self.quantization = spec.get("quantization", "none")
        self.session = cpu_session(onnx_path, threads)
        self.input_name = self.session.get_inputs()[0].name
        outputs = self.session.get_outputs()[0].shape[-1]
        if isinstance(outputs, int) and outputs != len(self.labels):
            raise ModelBundleError(f"{onnx_path}: {outputs} outputs, but {labels_file} names {len(self.labels)} classes")
        self.path = onnx_path

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Probabilities for a batch of faces, in the bundle's `labels` order."""
        if len(batch) == 0:
            return np.zeros((0, len(self.labels)), np.float32)
        batch = batch.astype(np.float32, copy=False)
        probs = predict_with_tta(lambda b: self.session.run(None, {self.input_name: b})[0], batch, self.tta)
        # an int8 graph's output is dequantized from uint8 steps, so its rows sum to 1 only within ~1%
        probs = probs / probs.sum(axis=1, keepdims=True)
        return apply_class_offsets(probs, self.class_offsets)
