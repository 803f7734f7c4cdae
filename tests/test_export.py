"""The export stage's pieces: class offsets fitted for macro-F1, the serving classifier applying them,
int8 quantization of a real Keras network's ONNX graph, and parameter checks."""

from __future__ import annotations

import json
import shutil

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from sklearn.metrics import f1_score

from conftest import REPO, flat_params
from emoscan.inference.bundle import SHIPPED_MODEL_DIR
from emoscan.inference.classifier import EmotionClassifier, ModelBundleError, apply_class_offsets
from emoscan.training.release.calibration import (class_prior, cross_fitted_probabilities, fit_class_offsets,
                                                  prior_offsets)
from emoscan.training.common.scoring import predict_probabilities


def _skewed_predictions(n: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels with a rare class 1 whose true score is pushed below the others (under-predicted)."""
    rng = np.random.default_rng(seed)
    y = rng.choice(7, n, p=[0.14, 0.03, 0.14, 0.25, 0.17, 0.16, 0.11])
    logits = rng.normal(0, 1, (n, 7)) + 2.0 * np.eye(7)[y]
    logits[:, 1] -= 2.0
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return probs, y


def test_offsets_raise_the_under_predicted_class_and_macro_f1():
    probs, y = _skewed_predictions()
    offsets = fit_class_offsets(probs, y, max_abs=1.5, step=0.1, rounds=3)
    assert offsets.shape == (7,) and np.abs(offsets).max() <= 1.5 + 1e-9
    # only differences between offsets matter: class 1's must stand out
    assert offsets[1] - np.delete(offsets, 1).max() > 0.5
    before = f1_score(y, probs.argmax(1), average="macro")
    after = f1_score(y, apply_class_offsets(probs, offsets).argmax(1), average="macro")
    assert after > before + 0.01
    # out-of-sample (cross-fitted) gains are real here too, and not above the in-sample ones
    crossed = f1_score(y, cross_fitted_probabilities(probs, y, seed=1).argmax(1), average="macro")
    assert before < crossed <= after + 1e-9


def test_offsets_stay_zero_when_nothing_improves():
    y = np.arange(7).repeat(10)
    assert not fit_class_offsets(np.eye(7)[y] * 0.9 + 0.1 / 7, y).any()


def test_prior_offsets_lean_towards_the_classes_training_saw_rarely():
    prior = class_prior(np.array([0] * 90 + [1] * 2 + [2] * 8), 4)  # class 3 never seen: counted once
    np.testing.assert_allclose(prior, np.array([90, 2, 8, 1]) / 101)
    assert not prior_offsets(prior, 0.0).any()
    offsets = prior_offsets(prior, 0.5)
    assert abs(offsets.mean()) < 1e-12 and list(np.argsort(offsets)) == [0, 2, 1, 3]
    # power 1 turns a classifier that predicts the training prior into a uniform one
    np.testing.assert_allclose(apply_class_offsets(np.tile(prior, (3, 1)), prior_offsets(prior, 1.0)), 0.25, atol=1e-6)


def test_applied_offsets_keep_probabilities_normalised():
    probs, _ = _skewed_predictions(50)
    shifted = apply_class_offsets(probs, np.array([0, 2.0, 0, 0, 0, 0, 0]))
    np.testing.assert_allclose(shifted.sum(axis=1), 1.0, atol=1e-6)
    assert (shifted[:, 1] > probs[:, 1]).all()
    assert apply_class_offsets(probs, None) is probs


def _bundle_with_offsets(tmp_path, offsets) -> object:
    bundle = tmp_path / "bundle"
    shutil.copytree(SHIPPED_MODEL_DIR, bundle, ignore=shutil.ignore_patterns("*.keras", "*.png"))
    spec = json.loads((bundle / "preprocessing.json").read_text())
    (bundle / "preprocessing.json").write_text(json.dumps({**spec, "class_log_offsets": offsets}))
    return bundle


def test_classifier_applies_the_bundle_offsets_after_tta(fer_faces, tmp_path):
    batch = np.stack([fer_faces[c][0] for c in ("disgust", "fear", "happy")])[..., None].astype(np.float32) / 255.0
    offsets = [0.0, 1.2, 0.3, -0.4, 0.0, 0.0, 0.2]
    bundle = _bundle_with_offsets(tmp_path, offsets)
    served, raw = EmotionClassifier(bundle), EmotionClassifier(bundle, calibrated=False)
    assert raw.class_offsets is None
    np.testing.assert_allclose(served.predict(batch), apply_class_offsets(raw.predict(batch), np.array(offsets)),
                               atol=1e-6)
    assert np.abs(served.predict(batch) - raw.predict(batch)).max() > 1e-3


def test_malformed_offsets_are_a_clear_bundle_error(tmp_path):
    with pytest.raises(ModelBundleError, match="class_log_offsets must list 7 numbers"):
        EmotionClassifier(_bundle_with_offsets(tmp_path, [0.5, 0.5]))


def test_int8_graph_is_quantized_and_close_to_float32(fer_faces, tmp_path):
    import keras
    import onnxruntime as ort

    from emoscan.training.release.export import export_bundle
    from emoscan.training.release.quantize import quantize_int8

    model = keras.saving.load_model(REPO / "models/warm_start/emoscan_vgg_v10_sgd_lr04_a.keras", compile=False)  # a trained network
    faces = np.stack([f for c in sorted(fer_faces) for f in fer_faces[c][:4]])
    export_bundle(model, tmp_path, faces[:8], 1e-4, onnx_file="fp32.onnx")
    calibration = faces.astype(np.float32)[..., None] / 255.0
    quantize_int8(tmp_path / "fp32.onnx", tmp_path / "int8.onnx", calibration)
    ops = {node.op_type for node in onnx.load(str(tmp_path / "int8.onnx")).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert (tmp_path / "int8.onnx").stat().st_size < 0.4 * (tmp_path / "fp32.onnx").stat().st_size
    outputs = {}
    for name in ("fp32", "int8"):
        session = ort.InferenceSession(str(tmp_path / f"{name}.onnx"), providers=["CPUExecutionProvider"])
        outputs[name] = session.run(None, {session.get_inputs()[0].name: calibration})[0]
    assert np.abs(outputs["int8"] - outputs["fp32"]).max() < 0.1
    assert (outputs["int8"].argmax(1) == outputs["fp32"].argmax(1)).mean() >= 0.9
    # the model card's multiply-adds, read from either graph, are the Keras network's convolutions'
    from emoscan.training.release.cost import multiply_adds

    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    expected = sum(int(np.prod(c.output.shape[1:3])) * int(np.prod(c.kernel.shape)) for c in convs)
    assert multiply_adds(tmp_path / "int8.onnx") == multiply_adds(tmp_path / "fp32.onnx") == expected > 100e6


def test_int8_weights_stay_where_no_cpu_saturates_and_fused_kernels_match_the_exact_arithmetic(fer_faces, tmp_path):
    """signed7 weights (|w| <= 64) cannot saturate the int16 pair sums of ONNX Runtime's u8 x s8
    kernels on CPUs without VNNI; signed8 ones reach past it (so the check can fail). On any CPU
    the served session then gives the exact arithmetic's answers."""
    import keras

    from emoscan.training.release.export import ExportParityError, check_exactness, export_bundle, exactness_report
    from emoscan.training.release.quantize import SATURATION_FREE_WEIGHT, quantize_int8, signed_weight_peak

    model = keras.saving.load_model(REPO / "models/warm_start/emoscan_vgg_v10_sgd_lr04_a.keras", compile=False)
    faces = np.stack([f for c in sorted(fer_faces) for f in fer_faces[c]])
    export_bundle(model, tmp_path, faces[:8], 1e-4, onnx_file="fp32.onnx")
    calibration = faces[:64].astype(np.float32)[..., None] / 255.0
    peaks = {}
    for layout in ("signed7", "signed8", "unsigned8"):
        quantize_int8(tmp_path / "fp32.onnx", tmp_path / f"{layout}.onnx", calibration, weights=layout)
        peaks[layout] = signed_weight_peak(tmp_path / f"{layout}.onnx")
    assert 32 < peaks["signed7"] <= SATURATION_FREE_WEIGHT < peaks["signed8"] <= 127
    assert peaks["unsigned8"] == 0, "no signed weights to saturate"
    session = ort.InferenceSession(str(tmp_path / "signed7.onnx"), providers=["CPUExecutionProvider"])
    served = predict_probabilities(lambda b: session.run(None, {session.get_inputs()[0].name: b})[0], faces, "none")
    report = exactness_report(tmp_path / "signed7.onnx", served, faces, "none")
    assert report["val_fused_exact_agreement"] >= 0.995 and report["val_fused_exact_max_abs_diff"] <= 0.05
    assert report["max_abs_weight"] == peaks["signed7"] and report["cpu"]
    cfg = {"int8_weights": "signed7", "int8_min_exact_agreement": 0.995, "int8_max_exact_diff": 0.05}
    check_exactness(report, cfg)
    with pytest.raises(ExportParityError, match="could saturate"):
        check_exactness({**report, "max_abs_weight": peaks["signed8"]}, cfg)
    with pytest.raises(ExportParityError, match="exact arithmetic on 90.00%"):
        check_exactness({**report, "val_fused_exact_agreement": 0.9}, cfg)


@pytest.mark.parametrize("key, value, message", [
    ("quantize", "fp16", r"export\.quantize: expected one of \['int8', 'none'\]"),
    ("int8_min_agreement", 1.5, r"export\.int8_min_agreement: expected a value in \[0, 1\]"),
    ("tta", "ten_crop", r"export\.tta: expected one of"),
    ("class_offsets", {"fit": True, "max_abs": 1.5, "step": 0.1, "rounds": 0, "halvings": 6}, r"export\.class_offsets\.rounds"),
    ("class_offsets", {"fit": True, "max_abs": 1.5, "step": 0.1, "rounds": 3, "halvings": 0},
     r"export\.class_offsets\.halvings"),
])
def test_bad_export_params_name_the_key(key, value, message):
    import yaml

    from emoscan.settings import ParamsError
    from emoscan.training.release.export import check_export_params

    cfg = flat_params()["export"]
    check_export_params(cfg)
    with pytest.raises(ParamsError, match=message):
        check_export_params({**cfg, key: value})


def test_served_probabilities_sum_to_one_from_the_int8_graph(fer_faces):
    """The int8 graph's outputs are dequantized steps whose rows miss 1 by up to ~1%; the
    classifier hands out proper distributions (the API promises probabilities)."""
    import onnxruntime as ort

    faces = np.stack([f for c in sorted(fer_faces) for f in fer_faces[c][:4]]).astype(np.float32)[..., None] / 255.0
    session = ort.InferenceSession(str(SHIPPED_MODEL_DIR / "model.onnx"), providers=["CPUExecutionProvider"])
    raw = session.run(None, {session.get_inputs()[0].name: faces})[0]
    np.testing.assert_allclose(EmotionClassifier(SHIPPED_MODEL_DIR).predict(faces).sum(axis=1), 1.0, atol=1e-5)
    served = EmotionClassifier(SHIPPED_MODEL_DIR, tta="none").predict(faces)  # the raw graph's one view
    np.testing.assert_allclose(served.sum(axis=1), 1.0, atol=1e-5)
    assert (served.argmax(1) == raw.argmax(1)).all(), "renormalising never changes the predicted class"
