"""How hard `train.augment` is on a trained network, with Keras' four image layers (four
resamplings) and with the fused affine resampling (one): its top-1 accuracy on training images,
un-augmented and augmented each way, and each way's sharpness (mean horizontal gradient).

    python benchmarks/research/bench_augment.py                       # the soup's first ingredient
    python benchmarks/research/bench_augment.py --model src/emoscan/models/emoscan-fer2013/model.keras --images 2048

The network is evaluated in inference mode; the images are the train split's, as the train stage
draws them (tf.data, `emoscan.training.nets.augment.make_dataset`).
"""

from __future__ import annotations

import argparse

import keras
import numpy as np

from emoscan.labels import CLASSES
from emoscan.settings import load_params
from emoscan.data.split import load_split
from emoscan.training.nets.augment import make_dataset


def augmented(x: np.ndarray, y: np.ndarray, cfg: dict | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`x` (uint8) as the train stage's tf.data pipeline feeds it, augmented by `cfg` (None: not)."""
    batches = list(make_dataset(x, y, 256, len(CLASSES), training=cfg is not None, augment_cfg=cfg, seed=seed))
    return (np.concatenate([a.numpy() for a, _ in batches]),
            np.concatenate([b.numpy().argmax(axis=1) for _, b in batches]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/warm_start/emoscan_vgg_v11_w20_adam.keras")
    parser.add_argument("--images", type=int, default=4096, help="training images drawn")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    params = load_params(args.params)
    x, y = load_split(params["split"]["output_dir"], "train")
    drawn = np.random.default_rng(args.seed).permutation(len(x))[:args.images]
    model = keras.saving.load_model(args.model, compile=False)
    cfg = params["train"]["augment"]
    print(f"{args.model} on {len(drawn)} training images, train.augment = {cfg}")
    print("| augmentation | accuracy | sharpness |\n|---|---:|---:|")
    for name, way in (("none", None), ("Keras layers (fused_affine: false)", cfg | {"fused_affine": False}),
                      ("fused affine (fused_affine: true)", cfg | {"fused_affine": True})):
        images, labels = augmented(x[drawn], y[drawn], way, args.seed)
        probs = np.concatenate([keras.ops.convert_to_numpy(model(images[i:i + 256], training=False))
                                for i in range(0, len(images), 256)])
        sharpness = np.abs(np.diff(images, axis=2)).mean()
        print(f"| {name} | {(probs.argmax(axis=1) == labels).mean():.4f} | {sharpness:.4f} |")


if __name__ == "__main__":
    main()
