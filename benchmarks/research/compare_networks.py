"""Two networks on the same validation images: each one's accuracy, the images only one of them
gets right, and the exact McNemar test of that split (a paired test: is the difference more than
noise?). Float32, no TTA, never the test split.

    python benchmarks/research/compare_networks.py models/train/model.keras OTHER.keras
"""

from __future__ import annotations

import argparse

import keras
from scipy.stats import binomtest

from emoscan.settings import load_params
from emoscan.data.split import load_split
from emoscan.training.scoring import predict_probabilities


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", help=".keras file")
    parser.add_argument("second", help=".keras file")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    x_val, y_val = load_split(load_params(args.params)["split"]["output_dir"], "val")
    right = []
    for path in (args.first, args.second):
        network = keras.saving.load_model(path, compile=False)
        predicted = predict_probabilities(lambda b: network(b, training=False), x_val, "none").argmax(axis=1)
        right.append(predicted == y_val)
        print(f"{path}: validation accuracy {right[-1].mean():.4f}")
    only_first, only_second = int((right[0] & ~right[1]).sum()), int((right[1] & ~right[0]).sum())
    p = binomtest(only_second, only_first + only_second).pvalue if only_first + only_second else 1.0
    print(f"of {len(y_val)} images: only the first right on {only_first}, only the second on {only_second};"
          f" exact McNemar p = {p:.2f}")


if __name__ == "__main__":
    main()
