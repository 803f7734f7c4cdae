"""Choose ensemble members on the validation split: every candidate `.keras` file alone, then every
combination of up to `--max-members` of them (probabilities averaged), ranked by validation
accuracy or macro-F1. Never the test split.

    python benchmarks/select_ensemble.py models/accelerated/*.keras models/warm_start/*.keras --max-members 3

The figures are in-sample for the choice itself (the chosen combination is the best of many on
this split), so the evaluate stage's test figures are the ones to quote.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import keras
import numpy as np

from emoscan.config import load_params
from emoscan.data.split import load_split
from emoscan.model.evaluate import classification_metrics, predict_probabilities


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", help="candidate .keras files")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--max-members", type=int, default=3)
    parser.add_argument("--tta", choices=("none", "flip"), default="none")
    parser.add_argument("--rank-by", choices=("accuracy", "macro_f1"), default="accuracy")
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args()
    x, y = load_split(load_params(args.params)["split"]["output_dir"], "val")
    probs = {}
    print(f"FER-2013 validation split: {len(y)} images, TTA {args.tta}")
    print("| model | params | accuracy | macro-F1 |\n|---|---:|---:|---:|")
    for path in args.models:
        name, model = Path(path).stem, keras.saving.load_model(path, compile=False)
        probs[name] = predict_probabilities(lambda b: model(b, training=False), x, args.tta)
        m = classification_metrics(y, probs[name].argmax(axis=1))
        print(f"| {name} | {model.count_params():,} | {m['accuracy']:.4f} | {m['macro_f1']:.4f} |")
    rows = []
    for k in range(2, args.max_members + 1):
        for combo in itertools.combinations(probs, k):
            m = classification_metrics(y, np.mean([probs[c] for c in combo], axis=0).argmax(axis=1))
            rows.append((m[args.rank_by], m["accuracy"], m["macro_f1"], combo))
    print(f"\nBest combinations by {args.rank_by}:\n| members | accuracy | macro-F1 |\n|---|---:|---:|")
    for _, acc, f1, combo in sorted(rows, reverse=True)[: args.top]:
        print(f"| {' + '.join(combo)} | {acc:.4f} | {f1:.4f} |")


if __name__ == "__main__":
    main()
