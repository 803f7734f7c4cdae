"""Training throughput of the train stage's real input pipeline and model, in float32 and in
mixed bfloat16 (`train.mixed_precision`), each in a fresh process: images/s and minutes per
FER-2013 epoch on this machine's CPU.

    python benchmarks/bench_training.py [--steps 60] [--warmup 10] [--architecture emoscan_vgg] [--width 1.0]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import yaml
from _machine import cpu_description  # benchmarks/ is on sys.path when this script runs


def measure(policy: str, architecture: str, width: float, steps: int, warmup: int) -> dict:
    """Images/s of `model.fit` over `steps` augmented batches after `warmup` batches."""
    import keras
    import numpy as np

    from emoscan import CLASSES
    from emoscan.data.split import load_split
    from emoscan.training.nets.architectures import build_model
    from emoscan.training.nets.augment import make_dataset
    from emoscan.training.fit.train import make_optimizer

    params = yaml.safe_load(open("params.yaml"))
    cfg = params["train"]
    keras.mixed_precision.set_global_policy(policy)
    x, y = load_split(params["split"]["output_dir"], "train")
    ds = make_dataset(x, y, cfg["batch_size"], len(CLASSES), training=True,
                      augment_cfg=cfg["augment"], seed=cfg["seed"]).repeat()
    model = build_model(architecture, params["image_size"], len(CLASSES), dropout_scale=cfg["dropout_scale"],
                        width=width)
    model.compile(optimizer=make_optimizer(cfg, steps), loss="categorical_crossentropy")
    model.fit(ds, steps_per_epoch=warmup, epochs=1, verbose=0)
    started = time.perf_counter()
    model.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0)
    seconds = time.perf_counter() - started
    per_s = steps * cfg["batch_size"] / seconds
    return {"policy": policy, "images_per_s": round(per_s, 1), "epoch_minutes": round(len(x) / per_s / 60, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--architecture", default="emoscan_vgg")
    parser.add_argument("--width", type=float, default=1.0, help="filters multiplier (v11: 2.0)")
    parser.add_argument("--policy", help=argparse.SUPPRESS)  # child process: measure one policy
    args = parser.parse_args()
    if args.policy:
        print(json.dumps(measure(args.policy, args.architecture, args.width, args.steps, args.warmup)))
        return
    print(f"{args.architecture} width {args.width}, {args.steps} augmented batches after {args.warmup} warm-up "
          f"batches; CPU: {cpu_description()}")
    print("| compute | images/s | min per epoch |\n|---|---:|---:|")
    for policy in ("float32", "mixed_bfloat16"):
        child = subprocess.run([sys.executable, __file__, *sys.argv[1:], "--policy", policy],
                               capture_output=True, text=True, check=True)
        row = json.loads(child.stdout.strip().splitlines()[-1])
        print(f"| {row['policy']} | {row['images_per_s']} | {row['epoch_minutes']} |")


if __name__ == "__main__":
    main()
