"""Time one training step of `emoscan_vgg` without augmentation, with the train stage's Keras
augmentation layers and with the fused affine augmenter (`accelerated.fused_affine`), in float32
and mixed bfloat16, on whatever Keras backend and device is active.

    KERAS_BACKEND=jax python benchmarks/research/bench_train_step.py        # e.g. on a GPU
    python benchmarks/research/bench_train_step.py --steps 10                 # TensorFlow on this CPU

Random inputs; the figure is wall time per optimiser step after compilation (Keras `fit`).
"""

from __future__ import annotations

import argparse
import time

import keras
import numpy as np

from emoscan.settings import load_params
from emoscan.training.nets.architectures import build_model
from emoscan.training.nets.augment import build_augmenter
from emoscan.training.nets.augment import build_fused_augmenter


def time_step(augmenter, augment_cfg: dict, policy: str, batch: int, steps: int) -> tuple[float, float]:
    """(seconds to compile + run two steps, milliseconds per step afterwards); `augmenter` builds
    the augmentation model from `augment_cfg` (None: no augmentation)."""
    keras.mixed_precision.set_global_policy(policy)
    model = build_model("emoscan_vgg")
    if augmenter is not None:
        inputs = keras.Input((48, 48, 1))
        model = keras.Model(inputs, model(augmenter(augment_cfg, seed=1)(inputs)))
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), loss="categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.random((batch * steps, 48, 48, 1), dtype=np.float32)
    y = np.eye(7, dtype=np.float32)[rng.integers(0, 7, batch * steps)]
    started = time.perf_counter()
    model.fit(x[: batch * 2], y[: batch * 2], batch_size=batch, verbose=0)
    compiled = time.perf_counter() - started
    started = time.perf_counter()
    model.fit(x, y, batch_size=batch, verbose=0)
    return compiled, (time.perf_counter() - started) / steps * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    augment_cfg = load_params(args.params)["train"]["augment"]
    print(f"backend {keras.backend.backend()}, batch {args.batch}")
    print("| policy | augmentation | compile + 2 steps (s) | ms per step |")
    print("|---|---|---:|---:|")
    augmenters = {"none": None, "Keras layers": build_augmenter, "fused affine": build_fused_augmenter}
    for policy in ("float32", "mixed_bfloat16"):
        for label, augmenter in augmenters.items():
            compiled, per_step = time_step(augmenter, augment_cfg, policy, args.batch, args.steps)
            print(f"| {policy} | {label} | {compiled:.1f} | {per_step:.1f} |", flush=True)


if __name__ == "__main__":
    main()
