"""The ship stage's model cards: short, true to the bundle's metrics, and saying how to reproduce it
(the pipeline test runs the stage itself on a small subset)."""

from __future__ import annotations

import json

import pytest

from conftest import flat_params
from emoscan.inference.bundle import SHIPPED_MODELS
from emoscan.training.release.ship import made_words, rare_words


@pytest.mark.parametrize("name", list(SHIPPED_MODELS))
def test_every_shipped_card_is_short_and_states_its_bundles_figures(name):
    bundle = SHIPPED_MODELS[name]
    card = (bundle / "MODEL_CARD.md").read_text()
    metrics = json.loads((bundle / "metrics.json").read_text())
    info = json.loads((bundle / "model_info.json").read_text())
    assert len(card.splitlines()) <= 120
    assert card.startswith(f"# emoscan-{name} v{info['version']} — model card")
    assert f"| **{metrics['accuracy']:.4f}** | **{metrics['macro_f1']:.4f}** |" in card
    for heading in ("## Intended use and limits", "## Results", "## Cost", "## Reproduce"):
        assert heading in card
    assert f"dvc repro ship@{name}" in card and "![confusion matrix](confusion_matrix.png)" in card
    assert (bundle / "confusion_matrix.png").is_file()
    assert info["version"] == flat_params(name)["version"]  # the version params.yaml gives the model


def test_the_card_says_how_the_network_was_made():
    assembled = flat_params("fer2013")["train"]
    assert made_words(assembled, {}).startswith("assembled from `models/warm_start/emoscan_vgg_v11_w20_adam.keras`"
                                                " souped with 2 warm restarts, averaged with")
    student = flat_params("fer2013-fast")["train"]
    words = made_words(student, {"epochs": 15})
    assert words.startswith("15 epochs of adam on the CPU from `models/warm_start/emoscan_vgg_v10_sgd_lr04_a.keras`")
    assert "distilled from `models/fer2013/train/model.keras`" in words


def test_the_limits_name_the_rarest_classes_with_their_support():
    metrics = {"per_class": {c: {"support": n} for c, n in (("angry", 400), ("disgust", 50), ("fear", 30))}}
    assert rare_words(metrics, ["angry", "disgust", "fear"]).startswith("Fear (30 evaluated faces) and disgust (50)")
