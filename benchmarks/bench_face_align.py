"""Tilted faces: FER-2013 faces, upscaled 4x onto a grey canvas and rotated in the image plane, found
by the face detector and classified as served, with the crop rotated level by the detector's eye
landmarks never, always, or above a tilt (`inference.face_align_degrees`). Prints accuracy and
macro-F1 of the served bundle per tilt and their mean. Choose on the validation split.

    python benchmarks/bench_face_align.py [--split val] [--tilts 0 10 -10 20 -20 30] [--gates 0 5 8 12]
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

from emoscan.config import load_params
from emoscan.data.split import load_split
from emoscan.inference.bundle import SHIPPED_MODEL_DIR
from emoscan.inference.classifier import EmotionClassifier
from emoscan.inference.detector import FaceDetector
from emoscan.inference.preprocess import INPUT_SIZE, faces_to_batch
from emoscan.inference.settings import load_settings
from emoscan.model.evaluate import classification_metrics

NEVER = 360.0  # no eye line tilts that far


def tilted_canvas(face: np.ndarray, degrees: float, upscale: int = 4) -> np.ndarray:
    """The face upscaled in the middle of a grey canvas twice its size, rotated about the centre."""
    size = INPUT_SIZE * upscale
    canvas = np.full((2 * size, 2 * size), 128, np.uint8)
    canvas[size // 2:size // 2 + size, size // 2:size // 2 + size] = cv2.resize(
        face, (size, size), interpolation=cv2.INTER_CUBIC)
    if degrees:
        matrix = cv2.getRotationMatrix2D((size, size), degrees, 1.0)
        canvas = cv2.warpAffine(canvas, matrix, (2 * size, 2 * size), flags=cv2.INTER_LINEAR, borderValue=128)
    return canvas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="val", choices=["val", "test"])
    parser.add_argument("--bundle", default=str(SHIPPED_MODEL_DIR))
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--tilts", type=float, nargs="+", default=[0, 10, -10, 20, -20, 30])
    parser.add_argument("--gates", type=float, nargs="+", default=[0, 5, 8, 12])
    args = parser.parse_args()
    x, y = load_split(load_params(args.params)["split"]["output_dir"], args.split)
    settings, _ = load_settings()
    classifier = EmotionClassifier(args.bundle, threads=2)
    detector = FaceDetector(max_side=0, min_face_size=0)
    gates = {"never": NEVER, **{f"tilt >= {g:g} deg": g for g in args.gates}}
    scores: dict[str, list[tuple[float, float]]] = {name: [] for name in gates}
    found_counts = []
    for tilt in args.tilts:
        canvases, boxes, labels = [], [], []
        for face, label in zip(x, y):
            canvas = tilted_canvas(face, tilt)
            detected = detector.detect(canvas)
            if detected:
                canvases.append(canvas)
                boxes.append(detected[0])
                labels.append(label)
        found_counts.append(len(labels))
        for name, gate in gates.items():
            batch = np.concatenate([faces_to_batch(c, [b], settings.face_crop_scale, gate)
                                    for c, b in zip(canvases, boxes)])
            probs = np.concatenate([classifier.predict(batch[i:i + 256]) for i in range(0, len(batch), 256)])
            m = classification_metrics(np.array(labels), probs.argmax(axis=1))
            scores[name].append((m["accuracy"], m["macro_f1"]))

    print(f"{args.bundle}, FER-2013 {args.split} split ({len(x)} faces), face_crop_scale "
          f"{settings.face_crop_scale}; accuracy / macro-F1 per tilt of the face in the image")
    print("faces found per tilt: " + ", ".join(f"{t:+g} deg: {n}" for t, n in zip(args.tilts, found_counts)))
    header = " | ".join(f"{t:+g} deg" for t in args.tilts)
    print(f"| rotate the crop level | {header} | mean |\n|---|" + "---:|" * (len(args.tilts) + 1))
    for name, rows in scores.items():
        cells = " | ".join(f"{a:.4f} / {f:.4f}" for a, f in rows)
        mean_acc, mean_f1 = np.mean(rows, axis=0)
        print(f"| {name} | {cells} | {mean_acc:.4f} / {mean_f1:.4f} |")


if __name__ == "__main__":
    main()
