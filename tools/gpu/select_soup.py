"""Choose a model soup's ingredients on the validation split (Wortsman et al., 2022): each network
alone, the uniform soup of all of them, and the greedy soup (ingredients taken in order of their
own validation accuracy, each kept only if the soup's validation accuracy does not drop). Every
soup is built by the train stage's own `emoscan.training.fit.soup.warm_start`: weights averaged, BatchNorm
statistics re-estimated on `train.soup_batchnorm_images` training images drawn with `train.seed`.
Float32, no TTA, never the test split.

    python tools/gpu/select_soup.py models/warm_start/emoscan_vgg_v11_*.keras models/fer2013/train/model.keras
    python tools/gpu/select_soup.py NETWORKS... --model ferplus   # the FER+ split and recipe

The networks must share a starting point (warm restarts of one network), or their average is not
a network (docs/experiments.md: the mirror-image soup scored 0.39).
"""

from __future__ import annotations

import argparse

from emoscan.settings import load_params
from emoscan.data.split import load_split
from emoscan.inference.preprocess import normalize
from emoscan.training.fit.soup import validation_scores, warm_start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("networks", nargs="+", help=".keras files sharing a starting point")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--model", default="fer2013", help="the model of params.yaml whose data and recipe to use")
    args = parser.parse_args()
    params = load_params(args.params, model=args.model)
    cfg, split_dir = params["train"], params["split"]["output_dir"]
    x_val, y_val = load_split(split_dir, "val")
    x_train, _ = load_split(split_dir, "train")

    def row(name: str, paths: list[str]) -> float:
        # the train stage's own start: paths[0] alone, or its soup with the rest
        network = warm_start(cfg | {"init_from": paths[0], "soup_with": paths[1:]}, x_train, normalize)
        m = validation_scores(network, x_val, y_val)
        print(f"| {name} | {len(paths)} | {m['accuracy']:.4f} | {m['macro_f1']:.4f} |", flush=True)
        return m["accuracy"]

    print(f"validation split ({split_dir}/val.npz): {len(y_val)} images; BatchNorm re-estimated on"
          f" {min(cfg['soup_batchnorm_images'], len(x_train))} training images")
    print("| network or soup | ingredients | accuracy | macro-F1 |\n|---|---:|---:|---:|")
    alone = {path: row(f"`{path}`", [path]) for path in args.networks}
    row("uniform soup of all", list(args.networks))
    ranked = sorted(args.networks, key=alone.get, reverse=True)
    kept, best = [ranked[0]], alone[ranked[0]]
    for path in ranked[1:]:
        accuracy = row(f"greedy: {len(kept)} kept + `{path}`", [*kept, path])
        if accuracy >= best:
            kept, best = [*kept, path], accuracy
    print(f"greedy soup: {kept} (validation accuracy {best:.4f})")


if __name__ == "__main__":
    main()
