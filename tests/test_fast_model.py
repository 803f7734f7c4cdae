"""The shipped fast FER-2013 model (`src/emoscan/models/emoscan-fer2013-fast/`) through every way in: the Python
API by name, the CLI's --model, the real BentoML server with MODEL_PATH=fer2013-fast; its cost (an
int8 graph under 2 MB, a quarter of the default model's multiply-adds) and the test-split figures
its card states, scored again here as served."""

from __future__ import annotations

import json

import pytest
import requests

import emoscan
from conftest import CLASSES, SHIPPED_ONLY, bentoml_server, run
from emoscan.data.split import load_split
from emoscan.inference.bundle import SHIPPED_MODELS
from emoscan.inference.classifier import EmotionClassifier
from emoscan.training.release.cost import multiply_adds
from emoscan.training.common.scoring import classification_metrics, predict_probabilities

pytestmark = pytest.mark.slow
FAST = SHIPPED_MODELS["fer2013-fast"]


def test_the_api_cli_and_server_take_the_fast_model_by_name(media, tmp_path):
    recognizer = emoscan.EmotionRecognizer("fer2013-fast")
    assert recognizer.labels == CLASSES and recognizer.source.path == FAST
    (face,) = recognizer.detect_emotions(media["astronaut"])
    assert list(face.probabilities) == list(CLASSES)
    assert sum(face.probabilities.values()) == pytest.approx(1.0, abs=1e-3)
    out = run(["emoscan", "predict", str(media["astronaut"]), "--model", "fer2013-fast", "--json"],
              env=SHIPPED_ONLY).stdout
    assert len(json.loads(out)["faces"]) == 1
    with bentoml_server(tmp_path, {"MODEL_PATH": "fer2013-fast"}) as (url, _):
        meta = requests.get(f"{url}/metadata", timeout=5).json()
        assert meta["model"]["name"] == "emoscan-fer2013-fast" and meta["classes"] == list(CLASSES)
        body = requests.post(f"{url}/detect", files={"image": open(media["astronaut"], "rb")}, timeout=30).json()
        assert list(body["faces"][0]["probabilities"]) == list(CLASSES)


def test_the_fast_model_costs_a_quarter_of_the_default_one():
    assert (FAST / "model.onnx").stat().st_size < 2_000_000
    fast, default = multiply_adds(FAST / "model.onnx"), multiply_adds(SHIPPED_MODELS["fer2013"] / "model.onnx")
    assert 0 < fast <= default / 3.5, f"{fast:,} multiply-adds against the default model's {default:,}"
    info = json.loads((FAST / "model_info.json").read_text())
    assert info["name"] == "emoscan-fer2013-fast" and info["tta"] == "none"
    assert json.loads((FAST / "preprocessing.json").read_text())["quantization"] == "int8"


def test_the_fast_model_scores_what_its_card_states_on_the_test_split(fer2013_split):
    """The bundle as served on the test split the split stage draws from the zip: the figures of its
    metrics.json and card, a few faces of 3,435 apart at most."""
    x, y = load_split(fer2013_split, "test")
    predicted = predict_probabilities(EmotionClassifier(FAST).predict, x, "none").argmax(1)
    scored = classification_metrics(y, predicted, CLASSES)
    stated = json.loads((FAST / "metrics.json").read_text())
    assert len(y) == stated["test_images"]
    assert scored["accuracy"] == pytest.approx(stated["accuracy"], abs=0.002)
    assert scored["macro_f1"] == pytest.approx(stated["macro_f1"], abs=0.005)
    assert f"| **{stated['accuracy']:.4f}** | **{stated['macro_f1']:.4f}** |" in (FAST / "MODEL_CARD.md").read_text()
