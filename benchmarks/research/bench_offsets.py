"""What the class offsets do out-of-sample: the bundle's validation probabilities (its TTA, offsets
off), then (1) a prior correction at several powers tau (`calibration.prior_offsets`: offsets
-tau * log(training-split class frequencies), nothing fitted on validation; not a params knob, the
bundles ship without it), and (2) for
several random stratified halvings of validation, offsets fitted on one half and scored on the other
(`emoscan.training.release.calibration.cross_fitted_probabilities`, as the evaluate stage does),
against no offsets. Prints accuracy, macro-F1 and the rarest classes' recall.

    python benchmarks/research/bench_offsets.py [--model src/emoscan/models/emoscan-fer2013] [--split-dir data/processed] \
        [--halvings 6] [--prior-powers 0 0.05 0.1 0.15 0.2 0.3]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, recall_score

from emoscan.settings import load_params
from emoscan.data.split import load_split
from emoscan.inference.classifier import EmotionClassifier, apply_class_offsets
from emoscan.training.release.calibration import class_prior, cross_fitted_probabilities, fit_kwargs, prior_offsets
from emoscan.training.scoring import predict_probabilities


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("src/emoscan/models/emoscan-fer2013"))
    parser.add_argument("--split-dir", default="data/processed")
    parser.add_argument("--params", default="params.yaml", help="export.class_offsets: the fitting grid")
    parser.add_argument("--halvings", type=int, default=6)
    parser.add_argument("--prior-powers", type=float, nargs="*", default=[0.0, 0.05, 0.1, 0.15, 0.2, 0.3])
    args = parser.parse_args()
    grid = load_params(args.params)["export"]["class_offsets"]
    x, y = load_split(args.split_dir, "val")
    classifier = EmotionClassifier(args.model, calibrated=False)
    raw = predict_probabilities(classifier.predict, x, "none")
    base_acc, base_f1 = accuracy_score(y, raw.argmax(1)), f1_score(y, raw.argmax(1), average="macro")
    print(f"{args.model}: {len(y)} validation images, TTA {classifier.tta}; without offsets: "
          f"accuracy {base_acc:.4f}, macro-F1 {base_f1:.4f}")
    prior = class_prior(load_split(args.split_dir, "train")[1], len(classifier.labels))
    rare = np.argsort(prior)[:3]
    print("training-split class frequencies: " + ", ".join(f"{c} {p:.4f}" for c, p in zip(classifier.labels, prior)))
    for power in args.prior_powers:
        pred = apply_class_offsets(raw, prior_offsets(prior, power)).argmax(1)
        recalls = recall_score(y, pred, labels=rare, average=None, zero_division=0)
        print(f"prior power {power:.2f}: accuracy {accuracy_score(y, pred):.4f}, macro-F1 "
              f"{f1_score(y, pred, average='macro'):.4f}; recall " +
              ", ".join(f"{classifier.labels[c]} {r:.3f}" for c, r in zip(rare, recalls)))
    gains = []
    for seed in range(args.halvings):
        crossed = cross_fitted_probabilities(raw, y, seed=seed, **fit_kwargs(grid)).argmax(1)
        acc, f1 = accuracy_score(y, crossed), f1_score(y, crossed, average="macro")
        gains.append((acc - base_acc, f1 - base_f1))
        print(f"halving {seed}: cross-fitted accuracy {acc:.4f} ({acc - base_acc:+.4f}), "
              f"macro-F1 {f1:.4f} ({f1 - base_f1:+.4f})")
    if gains:
        mean = np.mean(gains, axis=0)
        print(f"mean gain: accuracy {mean[0]:+.4f}, macro-F1 {mean[1]:+.4f}")


if __name__ == "__main__":
    main()
