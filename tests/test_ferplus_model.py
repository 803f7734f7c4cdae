"""The shipped FER+ model (`src/emoscan/models/emoscan-ferplus/`) through every way in: the Python API by name,
the CLI's --model, and the real BentoML server with MODEL_PATH=ferplus. Every answer carries the
bundle's eight classes, contempt among them."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import requests

import emoscan
from conftest import SHIPPED_ONLY, bentoml_server, run
from emoscan.data.ferplus import FERPLUS_CLASSES, NO_MAJORITY, majority_labels, read_folder
from emoscan.inference.bundle import SHIPPED_MODELS
from emoscan.inference.classifier import EmotionClassifier
from emoscan.training.common.scoring import classification_metrics, predict_probabilities

pytestmark = pytest.mark.slow


def test_the_api_takes_the_shipped_model_by_name(media):
    recognizer = emoscan.EmotionRecognizer("ferplus")
    assert recognizer.labels == FERPLUS_CLASSES and recognizer.source.path == SHIPPED_MODELS["ferplus"]
    (face,) = recognizer.detect_emotions(media["astronaut"])
    assert list(face.probabilities) == list(FERPLUS_CLASSES)
    assert sum(face.probabilities.values()) == pytest.approx(1.0, abs=1e-3)
    assert recognizer.classify_crops(np.full((1, 48, 48), 128, np.uint8)).shape == (1, 8)
    summary = recognizer.analyze_video(media["video"], frame_rate=2).summary()
    assert list(summary["emotion_distribution"]) == list(FERPLUS_CLASSES)


def test_the_cli_takes_model_ferplus(media, tmp_path):
    out = run(["emoscan", "predict", str(media["astronaut"]), "--model", "ferplus", "--json"], env=SHIPPED_ONLY).stdout
    assert list(json.loads(out)["faces"][0]["probabilities"]) == list(FERPLUS_CLASSES)
    run(["emoscan", "video", str(media["video"]), "--model", "ferplus", "--csv", str(tmp_path / "f.csv")],
        env=SHIPPED_ONLY)
    with open(tmp_path / "f.csv") as handle:
        header = next(csv.reader(handle))
    assert header[-8:] == list(FERPLUS_CLASSES)


def test_the_server_serves_ferplus_from_model_path(media, tmp_path):
    with bentoml_server(tmp_path, {"MODEL_PATH": "ferplus"}) as (url, _):
        meta = requests.get(f"{url}/metadata", timeout=5).json()
        assert meta["classes"] == list(FERPLUS_CLASSES) and meta["model"]["name"] == "emoscan-ferplus"
        body = requests.post(f"{url}/detect", files={"image": open(media["astronaut"], "rb")}, timeout=30).json()
        assert list(body["faces"][0]["probabilities"]) == list(FERPLUS_CLASSES)
        video = requests.post(f"{url}/detect-video", files={"video": ("v.mp4", media["video"].read_bytes())},
                              data={"frame_rate": "2"}, timeout=60).json()
        assert list(video["summary"]["emotion_distribution"]) == list(FERPLUS_CLASSES)


def test_the_shipped_model_scores_what_its_card_states_on_fer2013valid(ferplus_zip):
    """The shipped bundle as served, on FER2013Valid read straight from FERPlus's zip (majority
    vote, faces without one left out): the accuracy and macro-F1 of its metrics.json and model
    card, which are at least the 86% the FER+ model is held to."""
    bundle = SHIPPED_MODELS["ferplus"]
    table = read_folder(ferplus_zip, "val")
    y = majority_labels(table.votes)
    keep = y != NO_MAJORITY
    # as the evaluate stage predicts: the serving classifier, serving's scaling, batches of 256
    predicted = predict_probabilities(EmotionClassifier(bundle).predict, table.images[keep], "none").argmax(1)
    scored = classification_metrics(y[keep], predicted, FERPLUS_CLASSES)  # the evaluate stage's metrics
    stated = json.loads((bundle / "metrics.json").read_text())
    assert keep.sum() == stated["images"] == 3396
    # the served kernels give the int8 graph's exact answers on every CPU (7-bit weights,
    # tests/test_int8_exactness.py): a few faces of 3,396 at most differ
    assert scored["accuracy"] == pytest.approx(stated["accuracy"], abs=0.002)
    assert scored["macro_f1"] == pytest.approx(stated["macro_f1"], abs=0.005)
    assert stated["accuracy"] >= 0.86
    assert f"| **{stated['accuracy']:.4f}** | **{stated['macro_f1']:.4f}** |" in (bundle / "MODEL_CARD.md").read_text()
