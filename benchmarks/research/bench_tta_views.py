"""What more test-time views would buy: validation accuracy and macro-F1 of the served bundle with
each face's probabilities averaged over several views (the face, its mirror image, shifts, zooms,
rotations: the affine changes the training augmentation makes), and the batch-1 cost of that many
views through the serving classifier. Validation split only: the test split chooses nothing.

    python benchmarks/research/bench_tta_views.py [--bundle src/emoscan/models/emoscan-fer2013] [--threads 2]

Each view is one bilinear warp (OpenCV, edges replicated) of the 48x48 face. The latency column is
one ONNX Runtime call on all of a face's views at once, as `predict_with_tta` does for flip.
"""

from __future__ import annotations

import sys
from pathlib import Path

import argparse
import statistics
import time

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: the shared helpers
from _machine import cpu_description  # noqa: E402
from emoscan.settings import load_params
from emoscan.data.split import load_split
from emoscan.inference.classifier import EmotionClassifier
from emoscan.inference.preprocess import normalize
from emoscan.training.scoring import classification_metrics

# name -> (shift x, shift y, zoom, rotation in degrees, mirrored)
WARPS = {
    "shift x+2": (2, 0, 1.0, 0.0), "shift x-2": (-2, 0, 1.0, 0.0),
    "shift y+2": (0, 2, 1.0, 0.0), "shift y-2": (0, -2, 1.0, 0.0),
    "zoom 1.1": (0, 0, 1.1, 0.0), "zoom 0.9": (0, 0, 0.9, 0.0),
    "rotate +5": (0, 0, 1.0, 5.0), "rotate -5": (0, 0, 1.0, -5.0),
}
# view sets to score, each with the face and its mirror image first
VIEW_SETS = {
    "face": ["face"],
    "face + mirror (flip TTA, served)": ["face", "mirror"],
    "+ zoom 1.1 (3 views)": ["face", "mirror", "zoom 1.1"],
    "+ shift x+2, mirrored shift x-2 (4 views)": ["face", "mirror", "shift x+2", "shift x-2 mirrored"],
    "+ zoom 1.1, both (4 views)": ["face", "mirror", "zoom 1.1", "zoom 1.1 mirrored"],
    "+ rotate +5 / -5 mirrored (4 views)": ["face", "mirror", "rotate +5 mirrored", "rotate -5 mirrored"],
    "+ the four 2-pixel shifts, both (10 views)": ["face", "mirror"] + [
        f"shift {d}{m}" for d in ("x+2", "x-2", "y+2", "y-2") for m in ("", " mirrored")],
    "all 18 views": None,
}


def warp(faces: np.ndarray, dx: float, dy: float, zoom: float, degrees: float) -> np.ndarray:
    """(N, 48, 48) uint8 faces through one affine map about their centre."""
    matrix = cv2.getRotationMatrix2D((23.5, 23.5), degrees, zoom)
    matrix[:, 2] += (dx, dy)
    return np.stack([cv2.warpAffine(f, matrix, (48, 48), flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_REPLICATE) for f in faces])


def views_of(faces: np.ndarray) -> dict[str, np.ndarray]:
    """Every view's (N, 48, 48, 1) network input, by name."""
    plain = {"face": faces, **{name: warp(faces, *params) for name, params in WARPS.items()}}
    views = {}
    for name, images in plain.items():
        views[name] = normalize(images)
        views["mirror" if name == "face" else f"{name} mirrored"] = normalize(images[:, :, ::-1])
    return views


def ms_per_face(classifier: EmotionClassifier, inputs: np.ndarray, views: int, repeats: int = 500) -> float:
    """Median batch-1 latency of one face's `views` views in one call, after warm-up."""
    batch = np.ascontiguousarray(np.repeat(inputs[:1], views, axis=0))
    for _ in range(50):
        classifier.predict(batch)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        classifier.predict(batch)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", default="src/emoscan/models/emoscan-fer2013")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    x_val, y_val = load_split(load_params(args.params)["split"]["output_dir"], "val")
    classifier = EmotionClassifier(args.bundle, threads=args.threads, tta="none")  # views are ours
    views = views_of(x_val)
    probs = {name: np.concatenate([classifier.predict(v[i:i + 256]) for i in range(0, len(v), 256)])
             for name, v in views.items()}

    print(f"{args.bundle}, FER-2013 validation split ({len(y_val)} images); CPU: {cpu_description()}, "
          f"{args.threads} threads")
    print("| views averaged | views | accuracy | macro-F1 | ms/face batch 1 |\n|---|---:|---:|---:|---:|")
    for label, names in VIEW_SETS.items():
        names = names or list(probs)
        m = classification_metrics(y_val, np.mean([probs[n] for n in names], axis=0).argmax(axis=1))
        latency = ms_per_face(classifier, views["face"], len(names))
        print(f"| {label} | {len(names)} | {m['accuracy']:.4f} | {m['macro_f1']:.4f} | {latency:.2f} |")
    print("\n| one view alone | accuracy | macro-F1 |\n|---|---:|---:|")
    for name in probs:
        m = classification_metrics(y_val, probs[name].argmax(axis=1))
        print(f"| {name} | {m['accuracy']:.4f} | {m['macro_f1']:.4f} |")


if __name__ == "__main__":
    main()
