"""Confidence-gated flip TTA on the validation split: the mirrored view is run only for faces whose
top probability (one view) is below a threshold, so the mean cost per face is one view plus the
gated fraction of a second. Prints, per threshold, the fraction of faces gated, the mean per-face
cost in views, and validation accuracy and macro-F1 of the served bundle (never the test split).

    python benchmarks/research/bench_gated_tta.py [--bundle src/emoscan/models/emoscan-fer2013] [--thresholds 0.5 0.6 0.7]

Multiply the views by the bundle's batch-1 latency (`benchmarks/bench_model.py`) for ms per face.
"""

from __future__ import annotations

import argparse

import numpy as np

from emoscan.settings import load_params
from emoscan.data.split import load_split
from emoscan.inference.classifier import EmotionClassifier
from emoscan.training.scoring import classification_metrics, predict_probabilities


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", default="src/emoscan/models/emoscan-fer2013")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.4, 0.5, 0.55, 0.6, 0.7, 0.8])
    args = parser.parse_args()
    x_val, y_val = load_split(load_params(args.params)["split"]["output_dir"], "val")
    classifier = EmotionClassifier(args.bundle, threads=2, tta="none")  # the bundle's class offsets apply
    one_view = predict_probabilities(classifier.predict, x_val, "none")
    flipped = predict_probabilities(classifier.predict, x_val, "flip")  # both views' average
    confidence = one_view.max(axis=1)

    print(f"{args.bundle}, FER-2013 validation split ({len(y_val)} images)")
    print("| flip TTA | faces flipped | views per face | accuracy | macro-F1 |\n|---|---:|---:|---:|---:|")
    rows = [("none", np.zeros(len(y_val), bool)), ("all faces", np.ones(len(y_val), bool))]
    rows += [(f"top probability < {t}", confidence < t) for t in args.thresholds]
    for name, gated in rows:
        m = classification_metrics(y_val, np.where(gated[:, None], flipped, one_view).argmax(axis=1))
        print(f"| {name} | {gated.mean():.1%} | {1 + gated.mean():.2f} | {m['accuracy']:.4f} | {m['macro_f1']:.4f} |")


if __name__ == "__main__":
    main()
