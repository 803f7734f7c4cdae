"""The shipped int8 graphs give the same answers on every x86 CPU: their signed weights stay where
ONNX Runtime's u8 x s8 kernels cannot saturate without VNNI (|w| <= 64), and the served session
(fused integer kernels, whatever this CPU has) agrees with the graph's exact arithmetic (graph
optimizations off) on each model's own validation faces, as the export stage checked when it
wrote them. On a VNNI CPU the second check passes for 8-bit weights too; the first does not."""

from __future__ import annotations

import json

import numpy as np
import pytest

from emoscan.data.ferplus import NO_MAJORITY, majority_labels, read_folder
from emoscan.data.split import load_split
from emoscan.hardware import cpu_kind
from emoscan.inference.bundle import SHIPPED_MODELS
from emoscan.inference.classifier import EmotionClassifier
from emoscan.training.release.quantize import SATURATION_FREE_WEIGHT, exact_session, signed_weight_peak
from emoscan.training.common.scoring import predict_probabilities

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def validation_faces(fer2013_split, ferplus_zip) -> dict[str, np.ndarray]:
    """Each shipped model's validation faces: FER-2013's as the split stage draws them from the
    zip (both FER-2013 models), FER+'s FER2013Valid faces with a majority vote."""
    table = read_folder(ferplus_zip, "val")
    fer2013 = load_split(fer2013_split, "val")[0]
    return {"fer2013": fer2013, "fer2013-fast": fer2013,
            "ferplus": table.images[majority_labels(table.votes) != NO_MAJORITY]}


@pytest.mark.parametrize("name", list(SHIPPED_MODELS))
def test_the_shipped_int8_weights_cannot_saturate_on_any_cpu(name):
    bundle = SHIPPED_MODELS[name]
    peak = signed_weight_peak(bundle / "model.onnx")
    assert 0 < peak <= SATURATION_FREE_WEIGHT, f"{name}: int8 weights reach {peak}"
    int8 = json.loads((bundle / "export_report.json").read_text())["int8"]
    assert int8["weights"] == "signed7" and int8["max_abs_weight"] == peak
    assert int8["val_fused_exact_agreement"] >= 0.995 and int8["val_fused_exact_max_abs_diff"] <= 0.05


@pytest.mark.parametrize("name", list(SHIPPED_MODELS))
def test_the_served_session_gives_the_exact_arithmetic_answers_on_this_cpu(name, validation_faces):
    bundle, faces = SHIPPED_MODELS[name], validation_faces[name]
    assert len(faces) > 2800
    served = predict_probabilities(EmotionClassifier(bundle, threads=2).predict, faces, "none")
    session = exact_session(bundle / "model.onnx", threads=2)
    exact = predict_probabilities(lambda b: session.run(None, {session.get_inputs()[0].name: b})[0], faces, "none")
    agreement = float((served.argmax(1) == exact.argmax(1)).mean())
    max_diff = float(np.abs(served - exact).max())
    assert agreement >= 0.995 and max_diff <= 0.05, f"{cpu_kind()}: agreement {agreement:.4f}, max diff {max_diff:.3f}"
