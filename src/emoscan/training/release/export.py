"""Export stage: the trained Keras model becomes the serving bundle (ONNX graph, label order,
preprocessing spec), so that serving needs ONNX Runtime only.

float32 ONNX graph (parity with Keras checked on real images) -> int8 graph (top-1 agreement with
float32 checked on the validation split; ONNX Runtime's fused kernels, as served, checked against
the graph's exact arithmetic, so that every CPU gives the same answers) -> class offsets fitted on the validation split under the
served test-time augmentation. The evaluate stage then measures this bundle, exactly as served."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import keras
import numpy as np
import onnxruntime as ort

from emoscan.data.split import load_split
from emoscan.hardware import cpu_kind
from emoscan.inference.classifier import TTA_MODES, apply_class_offsets
from emoscan.inference.preprocess import normalize
from emoscan.labels import CLASSES
from emoscan.settings import require
from emoscan.training.common.artifacts import (BEST_MODEL, EXPORT_REPORT, FLOAT_ONNX_FILE, LABELS_FILE, ONNX_FILE,
                                        PREPROCESSING_FILE)
from emoscan.training.release.calibration import check_offsets_params, fit_class_offsets
from emoscan.training.release.quantize import (SATURATION_FREE_WEIGHT, WEIGHT_LAYOUTS, exact_session, quantize_int8,
                                               signed_weight_peak)
from emoscan.training.common.scoring import predict_probabilities

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
    """The ONNX graph does not reproduce the Keras outputs (or the int8 graph the float32 one's)."""


def export_bundle(model, out_dir: Path, check_images: np.ndarray, tolerance: float, tta: str = "none",
                  onnx_file: str = ONNX_FILE, classes: tuple[str, ...] = CLASSES) -> dict:
    """Write model.onnx, labels.json and preprocessing.json; return the parity report.

    `check_images` are uint8 (N, 48, 48) images fed to both Keras and ONNX Runtime. `tta` (one of
    TTA_MODES) goes into preprocessing.json, so that serving applies the test-time augmentation
    the evaluate stage measured.
    """
    if tta not in TTA_MODES:
        raise ValueError(f"test-time augmentation {tta!r}: expected one of {TTA_MODES}")
    out_dir.mkdir(parents=True, exist_ok=True)
    x = normalize(check_images)
    expected = np.asarray(model(x, training=False))  # also builds the graph before export
    model.export(str(out_dir / onnx_file), format="onnx", verbose=False)
    session = ort.InferenceSession(str(out_dir / onnx_file), providers=["CPUExecutionProvider"])
    actual = session.run(None, {session.get_inputs()[0].name: x})[0]
    max_diff = float(np.abs(actual - expected).max())
    same_top1 = float((actual.argmax(1) == expected.argmax(1)).mean())
    report = {"images": int(len(x)), "max_abs_diff": max_diff, "top1_agreement": same_top1,
              "tolerance": tolerance}
    if max_diff > tolerance:
        raise ExportParityError(f"ONNX outputs differ from Keras by {max_diff:.2e} (> {tolerance:.0e})")
    (out_dir / LABELS_FILE).write_text(json.dumps(list(classes)))
    spec = {**PREPROCESSING_SPEC, "test_time_augmentation": tta}
    (out_dir / PREPROCESSING_FILE).write_text(json.dumps(spec, indent=2))
    return report


def _session_predict(path: Path):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda batch: session.run(None, {name: batch})[0]


def exactness_report(int8_graph: Path, served: np.ndarray, x_val: np.ndarray, tta: str) -> dict:
    """How the served session's probabilities `served` (fused integer kernels, this CPU's) compare
    with the int8 graph's exact arithmetic on the validation images, and the graph's largest signed
    int8 weight (within SATURATION_FREE_WEIGHT: the same answers on CPUs without VNNI too)."""
    session = exact_session(int8_graph)
    exact = predict_probabilities(lambda b: session.run(None, {session.get_inputs()[0].name: b})[0], x_val, tta)
    return {"val_fused_exact_agreement": float((served.argmax(1) == exact.argmax(1)).mean()),
            "val_fused_exact_max_abs_diff": float(np.abs(served - exact).max()),
            "max_abs_weight": signed_weight_peak(int8_graph), "saturation_free_weight": SATURATION_FREE_WEIGHT,
            "cpu": cpu_kind()}


def check_exactness(int8: dict, cfg: dict) -> None:
    """Refuse an int8 graph whose fused kernels disagree with its exact arithmetic on this CPU, or
    whose signed weights could saturate ONNX Runtime's int16 pair sums on a CPU without VNNI."""
    if int8["val_fused_exact_agreement"] < cfg["int8_min_exact_agreement"]:
        raise ExportParityError(f"the int8 graph's fused kernels agree with its exact arithmetic on "
                                f"{int8['val_fused_exact_agreement']:.2%} of validation images (< "
                                f"export.int8_min_exact_agreement {cfg['int8_min_exact_agreement']:.1%})")
    if int8["val_fused_exact_max_abs_diff"] > cfg["int8_max_exact_diff"]:
        raise ExportParityError(f"the int8 graph's fused kernels differ from its exact arithmetic by "
                                f"{int8['val_fused_exact_max_abs_diff']:.3f} (> export.int8_max_exact_diff)")
    if cfg["int8_weights"] == "signed7" and int8["max_abs_weight"] > SATURATION_FREE_WEIGHT:
        raise ExportParityError(f"int8 weights reach {int8['max_abs_weight']} (> {SATURATION_FREE_WEIGHT}): "
                                "u8 x s8 pair sums could saturate on CPUs without VNNI")


def check_export_params(cfg: dict) -> None:
    """Validate the export section of params.yaml with messages naming the key."""
    require(cfg, "output_dir", str, where="export")
    require(cfg, "onnx_tolerance", float, where="export", low=0.0)
    require(cfg, "tta", str, where="export", choices=TTA_MODES)
    require(cfg, "quantize", str, where="export", choices=("int8", "none"))
    require(cfg, "calibration_images", int, where="export", low=1)
    require(cfg, "int8_min_agreement", (int, float), where="export", low=0, high=1)
    require(cfg, "int8_weights", str, where="export", choices=tuple(WEIGHT_LAYOUTS))
    require(cfg, "int8_min_exact_agreement", (int, float), where="export", low=0, high=1)
    require(cfg, "int8_max_exact_diff", (int, float), where="export", low=0, high=1)
    check_offsets_params(require(cfg, "class_offsets", dict, where="export"))


def int8_calibration_images(params: dict) -> np.ndarray:
    """The training images whose activations set the int8 ranges: `export.calibration_images` of
    them, drawn with the split seed, as the network's (N, 48, 48, 1) float32 input."""
    x_train, _ = load_split(params["split"]["output_dir"], "train")
    picked = np.random.default_rng(params["split"]["seed"]).permutation(len(x_train))
    return normalize(x_train[picked[:params["export"]["calibration_images"]]])


def export(params: dict) -> dict:
    """Run the export stage: write the serving bundle to export.output_dir; return (and write)
    the export report: float32 parity, int8 agreement, class offsets."""
    cfg = params["export"]
    check_export_params(cfg)
    out = Path(cfg["output_dir"])
    model = keras.saving.load_model(Path(params["train"]["output_dir"]) / BEST_MODEL, compile=False)
    split_dir = params["split"]["output_dir"]
    x_val, y_val = load_split(split_dir, "val")
    report: dict = {"tta": cfg["tta"], "quantize": cfg["quantize"]}
    report["float32_parity"] = export_bundle(model, out, x_val[:256], cfg["onnx_tolerance"], tta=cfg["tta"],
                                             onnx_file=FLOAT_ONNX_FILE, classes=tuple(params["classes"]))
    float_probs = predict_probabilities(_session_predict(out / FLOAT_ONNX_FILE), x_val, cfg["tta"])
    if cfg["quantize"] == "int8":
        calibration = int8_calibration_images(params)
        quantize_int8(out / FLOAT_ONNX_FILE, out / ONNX_FILE, calibration, weights=cfg["int8_weights"])
        probs = predict_probabilities(_session_predict(out / ONNX_FILE), x_val, cfg["tta"])
        agreement = float((probs.argmax(1) == float_probs.argmax(1)).mean())
        report["int8"] = {"calibration_images": int(len(calibration)), "weights": cfg["int8_weights"],
                          "val_top1_agreement": agreement,
                          "val_max_abs_diff": float(np.abs(probs - float_probs).max()),
                          **exactness_report(out / ONNX_FILE, probs, x_val, cfg["tta"])}
        if agreement < cfg["int8_min_agreement"]:
            raise ExportParityError(f"int8 graph agrees with float32 on {agreement:.1%} of validation images "
                                    f"(< export.int8_min_agreement {cfg['int8_min_agreement']:.1%})")
        check_exactness(report["int8"], cfg)
    else:
        shutil.copy(out / FLOAT_ONNX_FILE, out / ONNX_FILE)
        probs = float_probs
    offsets_cfg = cfg["class_offsets"]
    offsets = None
    if offsets_cfg["fit"]:
        offsets = fit_class_offsets(probs, y_val, offsets_cfg["max_abs"], offsets_cfg["step"], offsets_cfg["rounds"])
        calibrated = apply_class_offsets(probs, offsets).argmax(1)
        report["class_offsets"] = {"offsets": dict(zip(params["classes"], map(float, offsets))),
                                   "val_accuracy_before": float((probs.argmax(1) == y_val).mean()),
                                   "val_accuracy_after": float((calibrated == y_val).mean())}
    spec = {**json.loads((out / PREPROCESSING_FILE).read_text()), "quantization": cfg["quantize"],
            "class_log_offsets": None if offsets is None else [float(v) for v in offsets]}
    (out / PREPROCESSING_FILE).write_text(json.dumps(spec, indent=2))
    (out / EXPORT_REPORT).write_text(json.dumps(report, indent=2))
    return report
