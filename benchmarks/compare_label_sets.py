"""The FER+ model and the FER-2013 model on the same faces, judged by both label sets: FER2013Valid's
majority vote (FER+'s ten annotators) and the original FER-2013 label (one annotator) of the same
PublicTest images, over the seven classes both share (the FER+ model's contempt column left out).
Images are matched by their pixels (the nearest FER-2013 test image, kept when its mean absolute
difference is under 6 grey levels: the Kaggle download is JPEG-compressed, FER+'s PNGs are not);
those whose FER+ majority is contempt, or that have none, are left out. Needs both pipelines' split stages (`dvc repro split@fer2013 split@ferplus`).

    python benchmarks/compare_label_sets.py [--fer2013 src/emoscan/models/emoscan-fer2013] [--ferplus src/emoscan/models/emoscan-ferplus]
"""

from __future__ import annotations

import argparse

import numpy as np

from emoscan.labels import CLASSES
from emoscan.settings import load_params
from emoscan.data.split import load_split
from emoscan.inference.classifier import EmotionClassifier
from emoscan.inference.preprocess import normalize
from emoscan.training.common.scoring import classification_metrics


def shared_probabilities(bundle: str, x: np.ndarray) -> np.ndarray:
    """The bundle's probabilities over FER-2013's seven classes (other classes' columns dropped)."""
    classifier = EmotionClassifier(bundle, threads=2)
    probs = np.concatenate([classifier.predict(normalize(x[i:i + 256])) for i in range(0, len(x), 256)])
    return probs[:, [classifier.labels.index(c) for c in CLASSES]]


def nearest_images(queries: np.ndarray, pool: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each query image, the index of the closest pool image (least squared difference) and
    their mean absolute difference in grey levels."""
    q = queries.reshape(len(queries), -1).astype(np.float32)
    p = pool.reshape(len(pool), -1).astype(np.float32)
    squared = (q ** 2).sum(1)[:, None] - 2 * q @ p.T + (p ** 2).sum(1)[None, :]
    nearest = squared.argmin(axis=1)
    return nearest, np.abs(q - p[nearest]).mean(axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fer2013", default="src/emoscan/models/emoscan-fer2013")
    parser.add_argument("--ferplus", default="src/emoscan/models/emoscan-ferplus")
    args = parser.parse_args()
    fer_params, plus_params = load_params("params.yaml"), load_params("params.yaml", model="ferplus")
    x_plus, y_plus = load_split(plus_params["split"]["output_dir"], "val")
    x_fer, y_fer = load_split(fer_params["split"]["output_dir"], "test")
    nearest, distance = nearest_images(x_plus, x_fer)
    plus_classes = plus_params["classes"]
    keep = [i for i in range(len(x_plus)) if distance[i] < 6.0 and plus_classes[y_plus[i]] in CLASSES]
    x = x_plus[keep]
    by_votes = np.asarray([CLASSES.index(plus_classes[y_plus[i]]) for i in keep])
    by_one = y_fer[nearest[keep]]
    print(f"{len(keep)} PublicTest faces with a FER+ majority among the seven shared classes; "
          f"the two label sets agree on {np.mean(by_votes == by_one):.4f} of them")
    print("| model | FER+ majority vote: accuracy / macro-F1 | FER-2013 label: accuracy / macro-F1 |")
    print("|---|---:|---:|")
    for name, bundle in (("fer2013", args.fer2013), ("ferplus (contempt left out)", args.ferplus)):
        predicted = shared_probabilities(bundle, x).argmax(axis=1)
        cells = [classification_metrics(labels, predicted) for labels in (by_votes, by_one)]
        print(f"| {name} | " + " | ".join(f"{m['accuracy']:.4f} / {m['macro_f1']:.4f}" for m in cells) + " |")


if __name__ == "__main__":
    main()
