"""Model soup (Wortsman et al., 2022): one network whose weights are the average of networks that
share a starting point (fine-tuned from the same weights, so they lie in one basin of the loss).
It costs one network at inference, where an ensemble of the same networks costs all of them.

Averaging the BatchNormalization moving statistics does not give the statistics of the averaged
network, so they are re-estimated on training images (as SWA does: Izmailov et al., 2018).

A soup of many ingredients can be saved as one network, with a provenance JSON beside it that holds
each ingredient's own (so the ingredients, 21 MB each, need not be committed):

    python -m emoscan.training.fit.soup OUT.keras INIT_FROM.keras RESTART.keras... [--params params.yaml]
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np

from emoscan.settings import load_params
from emoscan.data.split import load_split
from emoscan.inference.preprocess import normalize
from emoscan.training.common.artifacts import provenance_of
from emoscan.training.common.scoring import classification_metrics, predict_probabilities


def average_weights(networks: list[keras.Model]) -> keras.Model:
    """The first network with every weight replaced by the mean over `networks` (same architecture)."""
    weights = [n.get_weights() for n in networks]
    if any([w.shape for w in ws] != [w.shape for w in weights[0]] for ws in weights[1:]):
        raise ValueError("a soup needs networks of one architecture and width: their weight shapes differ")
    networks[0].set_weights([np.mean(same, axis=0) for same in zip(*weights)])
    return networks[0]


def reestimate_batchnorm(network: keras.Model, images: np.ndarray, batch_size: int = 256) -> keras.Model:
    """Set every BatchNormalization layer's moving mean and variance to the average of its batch
    statistics over `images` ((N, size, size, 1) floats as the network takes them), in one pass in
    training mode as SWA's `update_bn` does: each layer normalises with its batch's statistics, so the
    layers after it see what they will see at inference. Dropout is held off during the pass."""
    norms = [layer for layer in network.layers if isinstance(layer, keras.layers.BatchNormalization)]
    dropouts = {layer: layer.rate for layer in network.layers if isinstance(layer, keras.layers.Dropout)}
    momenta = [layer.momentum for layer in norms]
    try:
        for layer in dropouts:
            layer.rate = 0.0
        for step, start in enumerate(range(0, len(images), batch_size), start=1):
            for layer in norms:  # moving = moving * m + batch * (1 - m) with m = 1 - 1/step: a running mean
                layer.momentum = 1.0 - 1.0 / step
            network(images[start:start + batch_size], training=True)
    finally:
        for layer, rate in dropouts.items():
            layer.rate = rate
        for layer, momentum in zip(norms, momenta):
            layer.momentum = momentum
    return network


def soup(paths: list[str], images: np.ndarray) -> keras.Model:
    """The uniform soup of the `.keras` files in `paths` (plain networks, not ensembles), its
    BatchNorm statistics re-estimated on `images`."""
    return reestimate_batchnorm(average_weights([keras.saving.load_model(p, compile=False) for p in paths]), images)


def warm_start(cfg: dict, x_train: np.ndarray | None,
               to_inputs: Callable[[np.ndarray], np.ndarray]) -> keras.Model | None:
    """The network a `train` section starts from: None without `init_from`; `init_from` itself, or,
    with `soup_with`, the soup of both, its BatchNorm statistics re-estimated on
    `soup_batchnorm_images` training images drawn with `seed` (`x_train`: uint8 (N, size, size),
    needed only for a soup; `to_inputs` scales them as the network takes them)."""
    if not cfg.get("init_from"):
        return None
    if not cfg.get("soup_with"):
        return keras.saving.load_model(cfg["init_from"], compile=False)
    drawn = np.random.default_rng(cfg["seed"]).permutation(len(x_train))[:cfg["soup_batchnorm_images"]]
    return soup([cfg["init_from"], *cfg["soup_with"]], to_inputs(x_train[drawn]))


def validation_scores(network: keras.Model, x_val: np.ndarray, y_val: np.ndarray) -> dict:
    """Accuracy and macro-F1 of `network` on the validation split's uint8 images (float32, no TTA)."""
    probs = predict_probabilities(lambda b: network(b, training=False), x_val, "none")
    return classification_metrics(y_val, probs.argmax(axis=1))


def save_soup(out: Path, paths: list[str], params: dict) -> dict:
    """Build the train stage's soup of `paths` (the first is the shared starting point) with
    `params`' train section, exactly as `warm_start` does, save it at `out` and its provenance at
    `out` with `.json`: every ingredient's path and provenance JSON (where one lies beside it),
    the BatchNorm re-estimation and the validation accuracy (float32, no TTA). Returns the provenance."""
    if len(paths) < 2:
        raise ValueError("a soup needs at least two networks")
    cfg, split_dir = params["train"], params["split"]["output_dir"]
    network = warm_start(cfg | {"init_from": paths[0], "soup_with": paths[1:]},
                         load_split(split_dir, "train")[0], normalize)
    val = validation_scores(network, *load_split(split_dir, "val"))
    origin = {"name": out.stem, "role": "soup", "architecture": cfg["architecture"],
              "params": network.count_params(), "init_from": paths[0],
              "ingredients": [{"path": p, "provenance": provenance_of(p)} for p in paths],
              "soup_batchnorm_images": cfg["soup_batchnorm_images"], "seed": cfg["seed"],
              "val_accuracy": val["accuracy"], "val_macro_f1": val["macro_f1"],
              "command": shlex.join(["python", "-m", "emoscan.training.fit.soup", *sys.argv[1:]])}
    out.parent.mkdir(parents=True, exist_ok=True)
    network.save(out)
    out.with_suffix(".json").write_text(json.dumps(origin, indent=2) + "\n")
    return origin


def main() -> None:
    parser = argparse.ArgumentParser(description="Save the uniform soup of warm restarts as one network.")
    parser.add_argument("out", type=Path, help="the soup's .keras file (its provenance: the same with .json)")
    parser.add_argument("networks", nargs="+", help="the shared starting point first, then its warm restarts")
    parser.add_argument("--model", default="fer2013", help="the model of params.yaml whose recipe and data to use")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    try:
        origin = save_soup(args.out, args.networks, load_params(args.params, model=args.model))
    except ValueError as error:  # too few networks, a missing file, or networks of different widths
        parser.error(str(error))
    print(f"{args.out}: soup of {len(args.networks)} networks, validation accuracy"
          f" {origin['val_accuracy']:.4f}, macro-F1 {origin['val_macro_f1']:.4f}")


if __name__ == "__main__":
    main()
