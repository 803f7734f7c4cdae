"""Whole photos end to end (emoscan.training.release.real_photos): the evaluate stage's real-photo
figures and `benchmarks/bench_real_photos.py` share it. Real FER-2013 faces placed on canvases stand
in for the development set, which never enters the project."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from conftest import place_faces
from emoscan.inference.analyzer import FaceAnalyzer
from emoscan.inference.bundle import SHIPPED_MODELS
from emoscan.inference.classifier import EmotionClassifier
from emoscan.labels import CLASSES
from emoscan.settings import InferenceSettings
from emoscan.training.release import real_photos
from emoscan.training.release.evaluate import real_photos as evaluate_real_photos
from emoscan.training.release.ship import real_photo_words


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory, fer_faces):
    """Three photos per class (a face on a canvas), a photo without a face under fear, and a file
    that is not an image."""
    folder = tmp_path_factory.mktemp("photos")
    for name in CLASSES:
        (folder / name).mkdir()
        for i, face in enumerate(fer_faces[name][:3]):
            cv2.imwrite(str(folder / name / f"{i}.png"), place_faces([face], canvas=(300, 300), offsets=[(75, 75)]))
    cv2.imwrite(str(folder / "fear" / "blank.png"), np.full((300, 300, 3), 190, np.uint8))
    (folder / "happy" / "notes.txt").write_text("not a photo")
    return folder


@pytest.fixture(scope="module")
def analyzer():
    return FaceAnalyzer(EmotionClassifier(SHIPPED_MODELS["fer2013"], threads=2), InferenceSettings())


def test_photos_are_framed_with_a_grey_border_and_labelled_by_folder(photo_folder):
    photos, labels, names = real_photos.load_photos(photo_folder, CLASSES)
    assert len(photos) == 3 * len(CLASSES) + 1 and "happy/notes.txt" not in names
    assert photos[0].shape == (450, 450, 3) and (photos[0][:75, :75] == 128).all()
    assert [CLASSES[i] for i in labels] == [n.split("/")[0] for n in names]
    with pytest.raises(FileNotFoundError, match="no photos"):
        real_photos.load_photos(photo_folder / "happy", CLASSES)


def test_scores_count_a_photo_without_a_face_wrong_and_match_the_analyzer(photo_folder, analyzer):
    result = real_photos.score_folder(analyzer, photo_folder, CLASSES)
    photos, labels, _ = real_photos.load_photos(photo_folder, CLASSES)
    expected = []
    for photo in photos:
        faces = analyzer.analyze_image(photo)
        expected.append(CLASSES.index(faces[0].emotion) if faces else len(CLASSES))
    assert result["photos"] == len(photos) and result["faces_found"] <= len(photos) - 1
    confusion = np.array(result["confusion"])
    assert confusion.sum() == len(photos) and confusion[CLASSES.index("fear"), -1] >= 1  # the blank photo
    assert result["accuracy"] == pytest.approx(float(np.mean(np.array(expected) == labels)))
    assert result["recall"]["happy"] == pytest.approx(confusion[CLASSES.index("happy"), CLASSES.index("happy")] / 3)
    seconds: list[float] = []
    predicted, _ = real_photos.predict_photos(analyzer, photos, CLASSES, seconds)
    assert predicted.tolist() == expected and len(seconds) == len(photos) and min(seconds) > 0


def test_the_digest_names_the_photos_measured(photo_folder, tmp_path):
    _, _, names = real_photos.load_photos(photo_folder, CLASSES)
    before = real_photos.folder_digest(photo_folder, names)
    assert real_photos.folder_digest(photo_folder, names) == before
    assert real_photos.folder_digest(photo_folder, names[:-1]) != before


def test_the_evaluate_stage_skips_an_absent_folder_and_the_card_then_says_nothing(tmp_path, photo_folder):
    bundle = SHIPPED_MODELS["fer2013"]
    assert evaluate_real_photos(bundle, "") is None
    assert evaluate_real_photos(bundle, str(tmp_path / "absent")) is None
    assert real_photo_words({}) == ""
    measured = evaluate_real_photos(bundle, str(photo_folder))
    words = real_photo_words({"real_photos": measured})
    assert f"Accuracy **{measured['accuracy']:.4f}**, macro-F1 **{measured['macro_f1']:.4f}**" in words
    assert f"faces found {measured['faces_found']}/{measured['photos']}" in words
    json.dumps(measured)  # metrics.json takes it as it is


@pytest.mark.parametrize("name", list(SHIPPED_MODELS))
def test_a_shipped_card_states_the_real_photo_figures_of_its_metrics(name):
    metrics = json.loads((SHIPPED_MODELS[name] / "metrics.json").read_text())
    if "real_photos" not in metrics:
        pytest.skip(f"{name}: shipped without real-photo figures (evaluate.real_photos was off or absent)")
    card = (SHIPPED_MODELS[name] / "MODEL_CARD.md").read_text()
    assert real_photo_words(metrics).strip() in card
