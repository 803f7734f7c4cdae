"""End to end on whole photos, as a user meets a model: each photo of FOLDER/<class>/ framed by a grey
border of a quarter of its sides, every face found by the serving detector, the largest classified
by the bundle; a photo without a face, or a class outside the folder's (ferplus' contempt), counts
wrong. The evaluate stage scores every model this way when `evaluate.real_photos` names a folder
(a development set kept outside the project: never trained on); `benchmarks/bench_real_photos.py`
does the same for any bundle and serving knob."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import cv2
import numpy as np

from emoscan.inference.analyzer import FaceAnalyzer
from emoscan.training.common.scoring import classification_metrics


def load_photos(folder: Path, classes: tuple[str, ...]) -> tuple[list[np.ndarray], np.ndarray, list[str]]:
    """BGR photos with a grey border of a quarter of their sides, their class indices, their paths
    relative to `folder`."""
    photos, labels, names = [], [], []
    for index, name in enumerate(classes):
        for path in sorted((folder / name).glob("*")):
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                continue
            dy, dx = image.shape[0] // 4, image.shape[1] // 4
            photos.append(cv2.copyMakeBorder(image, dy, dy, dx, dx, cv2.BORDER_CONSTANT, value=(128, 128, 128)))
            labels.append(index)
            names.append(str(path.relative_to(folder)))
    if not photos:
        raise FileNotFoundError(f"{folder}: no photos in {folder}/<class>/ for the classes {', '.join(classes)}")
    return photos, np.array(labels), names


def folder_digest(folder: Path, names: list[str]) -> str:
    """An MD5 over the photos' relative paths and bytes: which photos a figure was measured on."""
    digest = hashlib.md5()
    for name in names:
        digest.update(name.encode())
        digest.update((folder / name).read_bytes())
    return digest.hexdigest()


def predict_photos(analyzer: FaceAnalyzer, photos: list[np.ndarray], classes: tuple[str, ...],
                   seconds: list[float] | None = None) -> tuple[np.ndarray, int]:
    """Each photo's class index by the largest face (len(classes) for no face or another class) and
    how many photos had a face; with `seconds`, each photo's wall time is appended to it (one call
    at a time, as a user's calls come)."""
    predicted, found = [], 0
    for photo in photos:
        start = time.perf_counter()
        faces = analyzer.analyze_image(photo)
        if seconds is not None:
            seconds.append(time.perf_counter() - start)
        found += bool(faces)
        emotion = max(faces, key=lambda f: f.box.width * f.box.height).emotion if faces else None
        predicted.append(classes.index(emotion) if emotion in classes else len(classes))
    return np.array(predicted), found


def photo_metrics(labels: np.ndarray, predicted: np.ndarray, found: int, classes: tuple[str, ...]) -> dict:
    """Accuracy, macro-F1 (over the folder's classes), per-class recall and the confusion matrix
    (an extra last column: no face or another class)."""
    metrics = classification_metrics(labels, predicted, classes)
    confusion = np.zeros((len(classes), len(classes) + 1), int)
    np.add.at(confusion, (labels, predicted), 1)
    return {"photos": int(len(labels)), "faces_found": int(found), "accuracy": metrics["accuracy"],
            "macro_f1": metrics["macro_f1"], "recall": {c: metrics["per_class"][c]["recall"] for c in classes},
            "confusion": confusion.tolist()}


def score_folder(analyzer: FaceAnalyzer, folder: Path, classes: tuple[str, ...]) -> dict:
    """`photo_metrics` of the analyzer's model on the folder, with the folder and its digest."""
    photos, labels, names = load_photos(folder, classes)
    predicted, found = predict_photos(analyzer, photos, classes)
    return {"folder": str(folder), "digest": folder_digest(folder, names),
            **photo_metrics(labels, predicted, found, classes)}
