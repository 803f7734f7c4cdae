"""Choose ensemble members on the validation split: every candidate `.keras` file alone, then every
combination of up to `--max-members` of them (probabilities averaged), ranked by validation
accuracy or macro-F1. Never the test split.

    python tools/gpu/select_ensemble.py models/accelerated/*.keras models/warm_start/*.keras --max-members 3

`--greedy` adds forward selection over all candidates (no size cap): an upper bound on what
averaging them can reach on validation, whatever it costs to serve.

`--frontier` adds the accuracy-latency frontier: for each ensemble size, the best combination is
built as the export stage builds it (one averaging graph, ONNX, int8 with activation ranges from
`export.calibration_images` training images) and scored on validation as served, with its latency
per face at batch 1 through the serving classifier (`--threads`, default 2; the graphs are timed
in turn for five rounds and each keeps its lowest median, as other work on a shared 2-core
machine only ever adds time).

The figures are in-sample for the choice itself (the chosen combination is the best of many on
this split), so the evaluate stage's test figures are the ones to quote.
"""

from __future__ import annotations

import sys

import argparse
import itertools
import tempfile
from pathlib import Path

import keras
import numpy as np

from emoscan.settings import load_params
from emoscan.data.split import load_split
from emoscan.inference.classifier import EmotionClassifier
from emoscan.inference.preprocess import normalize
from emoscan.training.nets.architectures import average_ensemble
from emoscan.training.common.scoring import classification_metrics, predict_probabilities

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))  # the benchmarks' shared helpers
from _served import lowest_medians, served_int8  # noqa: E402
def frontier(best: dict[int, tuple], models: dict[str, keras.Model], params: dict, x: np.ndarray, y: np.ndarray,
             threads: int) -> None:
    """Print, per ensemble size, the best combination's int8 validation figures and latency."""
    rows, classifiers = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for k, combo in sorted(best.items()):
            members = [models[c] for c in combo]
            classifiers[k] = EmotionClassifier(served_int8(members, params, Path(tmp) / str(k)), threads=threads,
                                               tta="none")
            m = classification_metrics(y, predict_probabilities(classifiers[k].predict, x, "none").argmax(axis=1))
            rows[k] = f"| {k} | {' + '.join(combo)} | {m['accuracy']:.4f} | {m['macro_f1']:.4f}"
        times = lowest_medians({k: c.predict for k, c in classifiers.items()}, normalize(x))
    print(f"\nAccuracy-latency frontier (int8, no TTA, batch 1, {threads} threads):\n"
          "| members | combination | accuracy | macro-F1 | ms/face |\n|---:|---|---:|---:|---:|")
    for k, row in rows.items():
        print(f"{row} | {times[k]:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", help="candidate .keras files")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--model", default="fer2013", help="the model of params.yaml whose data and recipe to use")
    parser.add_argument("--max-members", type=int, default=3)
    parser.add_argument("--tta", choices=("none", "flip"), default="none")
    parser.add_argument("--rank-by", choices=("accuracy", "macro_f1"), default="accuracy")
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--frontier", action="store_true", help="int8 accuracy and latency of the best combination "
                        "of each size")
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime intra-op threads for --frontier")
    parser.add_argument("--greedy", action="store_true", help="forward selection over every candidate, whatever "
                        "the size: what averaging these networks can reach at most")
    args = parser.parse_args()
    params = load_params(args.params, model=args.model)
    x, y = load_split(params["split"]["output_dir"], "val")
    probs, models = {}, {}
    print(f"FER-2013 validation split: {len(y)} images, TTA {args.tta}")
    print("| model | params | accuracy | macro-F1 |\n|---|---:|---:|---:|")
    for path in args.models:
        name, model = Path(path).stem, keras.saving.load_model(path, compile=False)
        if name in models:  # same file name in another folder
            name = f"{Path(path).parent.name}/{name}"
        models[name] = model
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
    if args.frontier:
        singles = [(classification_metrics(y, p.argmax(axis=1))[args.rank_by], (n,)) for n, p in probs.items()]
        best: dict[int, tuple] = {}
        for _, combo in sorted(singles + [(r[0], r[3]) for r in rows], reverse=True):
            best.setdefault(len(combo), combo)
        frontier(best, models, params, x, y, args.threads)
    if args.greedy:
        greedy(probs, y, args.rank_by)


def greedy(probs: dict[str, np.ndarray], y: np.ndarray, rank_by: str) -> None:
    """Print forward selection: each step adds the network whose addition scores best by `rank_by`."""
    def score(names: list[str]) -> dict:
        return classification_metrics(y, np.mean([probs[n] for n in names], axis=0).argmax(axis=1))

    every = score(list(probs))
    print(f"\nForward selection by {rank_by} (all {len(probs)} averaged: {every['accuracy']:.4f} / "
          f"{every['macro_f1']:.4f}):\n| step | added | accuracy | macro-F1 |\n|---:|---|---:|---:|")
    chosen: list[str] = []
    while len(chosen) < len(probs):
        chosen.append(max((n for n in probs if n not in chosen), key=lambda n: score(chosen + [n])[rank_by]))
        m = score(chosen)
        print(f"| {len(chosen)} | {chosen[-1]} | {m['accuracy']:.4f} | {m['macro_f1']:.4f} |")


if __name__ == "__main__":
    main()
