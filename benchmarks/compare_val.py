"""Validation-split figures of Keras models, computed by the evaluate stage's own functions: what
the register stage selects the champion on (`register.metric: val_macro_f1`). Never the test split.

    python benchmarks/compare_val.py models/warm_start/emoscan_vgg_v3.keras models/emoscan-fer2013/model.keras
"""

from __future__ import annotations

import argparse

import keras

from emoscan.config import load_params
from emoscan.data.split import load_split
from emoscan.inference.classifier import TTA_MODES
from emoscan.model.evaluate import classification_metrics, predict_probabilities


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help=".keras files")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    x, y = load_split(load_params(args.params)["split"]["output_dir"], "val")
    print(f"FER-2013 validation split: {len(y)} images")
    print("| model | TTA | accuracy | macro-F1 |\n|---|---|---:|---:|")
    for path in args.models:
        model = keras.saving.load_model(path, compile=False)
        for tta in TTA_MODES:
            probs = predict_probabilities(lambda b: model(b, training=False), x, tta)
            m = classification_metrics(y, probs.argmax(axis=1))
            print(f"| {path} | {tta} | {m['accuracy']:.4f} | {m['macro_f1']:.4f} |")


if __name__ == "__main__":
    main()
