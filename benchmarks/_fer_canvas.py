"""FER-2013 faces as the serving path meets them in photos: upscaled onto a grey canvas (and turned),
found by the face detector, scored through the serving classifier. Shared by bench_face_crop.py and
bench_face_align.py."""

from __future__ import annotations

import cv2
import numpy as np

from emoscan.inference.classifier import EmotionClassifier
from emoscan.inference.detectors import FaceDetector, make_detector
from emoscan.inference.preprocess import INPUT_SIZE
from emoscan.inference.types import Box
from emoscan.training.common.scoring import classification_metrics


def fer_canvas(face: np.ndarray, upscale: int, degrees: float = 0.0) -> np.ndarray:
    """The face upscaled `upscale` times in the middle of a grey canvas twice its size, turned by
    `degrees` about the centre."""
    size = INPUT_SIZE * upscale
    canvas = np.full((2 * size, 2 * size), 128, np.uint8)
    canvas[size // 2:size // 2 + size, size // 2:size // 2 + size] = cv2.resize(
        face, (size, size), interpolation=cv2.INTER_CUBIC)
    if degrees:
        matrix = cv2.getRotationMatrix2D((size, size), degrees, 1.0)
        canvas = cv2.warpAffine(canvas, matrix, (2 * size, 2 * size), flags=cv2.INTER_LINEAR, borderValue=128)
    return canvas


def detected_faces(x: np.ndarray, detector: FaceDetector, upscale: int,
                   degrees: float = 0.0) -> tuple[list[int], list[np.ndarray], list[Box]]:
    """Every face of `x` on its canvas; (indices of those the detector found, their canvases, the
    largest box found on each)."""
    found, canvases, boxes = [], [], []
    for i, face in enumerate(x):
        canvas = fer_canvas(face, upscale, degrees)
        detected = detector.detect(canvas)
        if detected:
            found.append(i)
            canvases.append(canvas)
            boxes.append(detected[0])
    return found, canvases, boxes


def score(classifier: EmotionClassifier, labels: np.ndarray, batch: np.ndarray) -> tuple[float, float]:
    """(accuracy, macro-F1) of the classifier on an (N, 48, 48, 1) batch."""
    probs = np.concatenate([classifier.predict(batch[i:i + 256]) for i in range(0, len(batch), 256)])
    m = classification_metrics(labels, probs.argmax(axis=1))
    return m["accuracy"], m["macro_f1"]


def print_mean_table(first_column: str, columns: list[str], rows: dict[str, list[tuple[float, float]]]) -> None:
    """A markdown table of accuracy / macro-F1 per column, with their mean as the last column."""
    print(f"| {first_column} | {' | '.join(columns)} | mean |\n|---|" + "---:|" * (len(columns) + 1))
    for name, scores in rows.items():
        cells = " | ".join(f"{a:.4f} / {f:.4f}" for a, f in scores)
        mean_acc, mean_f1 = np.mean(scores, axis=0)
        print(f"| {name} | {cells} | {mean_acc:.4f} / {mean_f1:.4f} |")
