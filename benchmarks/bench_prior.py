"""A class-prior correction of the shipped seven-class models on FER-2013's validation split: offsets
of -TAU * log(the training split's class shares) added to the log-probabilities, as a bundle's
`class_log_offsets` would be; accuracy, macro-F1 and the rare classes' recall for each TAU. The guard
beside `bench_real_photos.py --prior-power TAU` (validation only; the test split is not read).

    python benchmarks/bench_prior.py [--model fer2013 fer2013-fast] [--powers 0 0.25 0.5 1.0]
"""

from __future__ import annotations

import argparse

from _machine import cpu_description
from bench_photo_inputs import predictor
from bench_real_photos import prior_offsets
from emoscan.data.split import load_split
from emoscan.inference.classifier import apply_class_offsets
from emoscan.training.common.scoring import classification_metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", nargs="+", default=["fer2013", "fer2013-fast"])
    parser.add_argument("--powers", type=float, nargs="+", default=[0.0, 0.25, 0.5, 1.0])
    parser.add_argument("--split-dir", default="data/fer2013/processed")
    args = parser.parse_args()
    x, y = load_split(args.split_dir, "val")
    print(f"FER-2013 validation: {len(y)} faces ({args.split_dir}/val.npz); CPU: {cpu_description()}")
    print("| model | tau | accuracy | macro-F1 | disgust recall | fear recall |\n|---|---:|---:|---:|---:|---:|")
    for name in args.model:
        probs = predictor(name)(x)  # the bundle's int8 graph, batches of 256
        for power in args.powers:
            m = classification_metrics(y, apply_class_offsets(probs, prior_offsets(power)).argmax(1))
            print(f"| {name} | {power:g} | {m['accuracy']:.4f} | {m['macro_f1']:.4f} "
                  f"| {m['per_class']['disgust']['recall']:.2f} | {m['per_class']['fear']['recall']:.2f} |")


if __name__ == "__main__":
    main()
