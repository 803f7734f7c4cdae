"""How much of the validation and test splits nearly repeats a training image, and how the shipped
bundle scores on those images against the rest: one way to read the gap between validation and
test accuracy. The split stage groups exact duplicates only; FER-2013 also holds near-duplicates
(the same photo cropped or re-encoded a little differently).

    python benchmarks/research/near_duplicates.py [--bundle src/emoscan/models/emoscan-fer2013] [--thresholds 0.9 0.95 0.98]

Similarity: cosine of the zero-mean 16x16 thumbnails, against the most similar training image.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from emoscan.settings import load_params
from emoscan.data.split import load_split
from emoscan.inference.classifier import EmotionClassifier
from emoscan.training.scoring import predict_probabilities


def thumbnails(faces: np.ndarray, side: int = 16) -> np.ndarray:
    """Unit-norm, zero-mean `side`x`side` thumbnails of uint8 (N, 48, 48) faces, one row each."""
    small = np.stack([cv2.resize(f, (side, side), interpolation=cv2.INTER_AREA) for f in faces])
    rows = small.reshape(len(faces), -1).astype(np.float32)
    rows -= rows.mean(axis=1, keepdims=True)
    return rows / (np.linalg.norm(rows, axis=1, keepdims=True) + 1e-6)


def nearest_training_similarity(faces: np.ndarray, train: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """For each face, the highest thumbnail cosine similarity to any training face."""
    return np.concatenate([(faces[i:i + chunk] @ train.T).max(axis=1) for i in range(0, len(faces), chunk)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, default=Path("src/emoscan/models/emoscan-fer2013"))
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.9, 0.95, 0.98])
    args = parser.parse_args()
    data_dir = load_params(args.params)["split"]["output_dir"]
    classifier = EmotionClassifier(args.bundle, threads=2)
    train = thumbnails(load_split(data_dir, "train")[0])
    print("| split | threshold | near-duplicate share | accuracy on them | accuracy on the rest |")
    print("|---|---:|---:|---:|---:|")
    for split in ("val", "test"):
        x, y = load_split(data_dir, split)
        correct = predict_probabilities(classifier.predict, x, "none").argmax(axis=1) == y
        similarity = nearest_training_similarity(thumbnails(x), train)
        for threshold in args.thresholds:
            near = similarity > threshold
            print(f"| {split} | {threshold} | {near.mean():.3f} | {correct[near].mean():.3f} |"
                  f" {correct[~near].mean():.3f} |")


if __name__ == "__main__":
    main()
