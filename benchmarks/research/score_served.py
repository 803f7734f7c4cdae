"""Candidate networks as they would be served, side by side on the validation split: each built as
the export stage builds it (one ONNX graph, int8 with the stage's weight layout and calibration
images), scored under the int8 graph's exact arithmetic (the answers of every CPU), with its
macro-F1, the recall of every class, its int8 size and its ms per face at batch 1 (the networks
timed in turn, lowest of five medians). A list of files after `--soup` is also scored as their
model soup (the train stage's `soup_with`: weights averaged, BatchNorm re-estimated). Never the
test split.

    python benchmarks/research/score_served.py models/ferplus/fast/model.keras --params ferplus/params.yaml
    python benchmarks/research/score_served.py A.keras --soup models/ferplus/fast/snapshots/epoch_{17,18,19,20}.keras \
        --params ferplus/params.yaml
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import keras

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/, for the shared helpers
from _machine import cpu_description  # noqa: E402
from _served import lowest_medians, served_int8  # noqa: E402
from bench_int8_layouts import session_predict  # noqa: E402  (this folder is on sys.path as the script's)
from emoscan.data.split import load_split  # noqa: E402
from emoscan.inference.classifier import EmotionClassifier  # noqa: E402
from emoscan.inference.preprocess import normalize  # noqa: E402
from emoscan.settings import load_params  # noqa: E402
from emoscan.training.artifacts import ONNX_FILE  # noqa: E402
from emoscan.training.fit.soup import warm_start  # noqa: E402
from emoscan.training.release.quantize import exact_session  # noqa: E402
from emoscan.training.scoring import classification_metrics, predict_probabilities  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("networks", nargs="*", help=".keras files, each scored alone")
    parser.add_argument("--soup", nargs="+", default=[], help=".keras files sharing a start: scored as one soup")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    params = load_params(args.params)
    classes = tuple(params["classes"])
    x_val, y_val = load_split(params["split"]["output_dir"], "val")
    candidates = {Path(n).name: (lambda n=n: keras.saving.load_model(n, compile=False)) for n in args.networks}
    if args.soup:
        cfg = {**params["train"], "init_from": args.soup[0], "soup_with": args.soup[1:]}
        x_train = load_split(params["split"]["output_dir"], "train")[0]  # the BatchNorm re-estimation's images
        candidates[f"soup of {len(args.soup)}"] = lambda: warm_start(cfg, x_train, normalize)
    print(f"validation: {len(y_val)} faces ({params['split']['output_dir']}); CPU: {cpu_description()}")
    rows, served = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, load) in enumerate(candidates.items()):
            bundle = served_int8([load()], params, Path(tmp) / str(i))
            session = exact_session(bundle / ONNX_FILE, threads=args.threads)
            exact = predict_probabilities(session_predict(session), x_val, "none")
            rows[name] = (classification_metrics(y_val, exact.argmax(1), classes), (bundle / ONNX_FILE).stat().st_size)
            served[name] = EmotionClassifier(bundle, threads=args.threads, tta="none").predict
        times = lowest_medians(served, normalize(x_val))
    recalls = " | ".join(f"{c} recall" for c in classes)
    print(f"| network (int8, exact arithmetic) | accuracy | macro-F1 | {recalls} | int8 MB | ms/face |")
    print("|---|---:|---:|" + "---:|" * len(classes) + "---:|---:|")
    for name, (m, size) in rows.items():
        recall = " | ".join(f"{m['per_class'][c]['recall']:.3f}" for c in classes)
        print(f"| {name} | {m['accuracy']:.4f} | {m['macro_f1']:.4f} | {recall} | {size / 1e6:.2f} | {times[name]:.2f} |")


if __name__ == "__main__":
    main()
