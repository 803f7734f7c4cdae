"""Which int8 weight layout to ship: each of `export.int8_weights`' layouts of the same float32
graph, side by side on the validation split: accuracy under the graph's exact arithmetic, top-1
agreement and largest probability difference of ONNX Runtime's fused kernels (as served) against
it, agreement with float32, the largest |int8 weight| (<= 64: no u8 x s8 pair can saturate on any
CPU) and ms per face at batch 1.

    python benchmarks/research/bench_int8_layouts.py                                # FER-2013
    python benchmarks/research/bench_int8_layouts.py --params ferplus/params.yaml   # FER+
    python benchmarks/research/bench_int8_layouts.py --layouts signed7 --calibration-images 1024 4096

It reads the export stage's float32 graph (export.output_dir/model_fp32.onnx: run `dvc repro` up to
export first) and the split's training images for calibration, as the export stage does.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/, for _machine and bench_model
from _machine import cpu_description  # noqa: E402
from bench_model import ms_per_face  # noqa: E402
from emoscan.data.split import load_split  # noqa: E402
from emoscan.inference.runtime import cpu_session  # noqa: E402
from emoscan.settings import load_params  # noqa: E402
from emoscan.training.artifacts import FLOAT_ONNX_FILE  # noqa: E402
from emoscan.training.release.export import int8_calibration_images  # noqa: E402
from emoscan.training.release.quantize import (WEIGHT_LAYOUTS, exact_session, quantize_int8,  # noqa: E402
                                               signed_weight_peak)
from emoscan.training.scoring import classification_metrics, predict_probabilities  # noqa: E402


def session_predict(session):
    """A session as the `predict` callable of predict_probabilities and ms_per_face."""
    name = session.get_inputs()[0].name
    return lambda batch: session.run(None, {name: batch})[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--layouts", nargs="+", default=list(WEIGHT_LAYOUTS), choices=list(WEIGHT_LAYOUTS))
    parser.add_argument("--calibration-images", type=int, nargs="+",
                        help="training images that set the activation ranges (default: export.calibration_images)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5, help="timing rounds, the layouts alternating")
    parser.add_argument("--repeats", type=int, default=300, help="timed faces per round")
    args = parser.parse_args()
    params = load_params(args.params)
    classes = tuple(params["classes"])
    float_graph = Path(params["export"]["output_dir"]) / FLOAT_ONNX_FILE
    x_val, y_val = load_split(params["split"]["output_dir"], "val")
    counts = args.calibration_images or [params["export"]["calibration_images"]]
    float_probs = predict_probabilities(session_predict(cpu_session(float_graph, args.threads)), x_val, "none")
    print(f"CPU: {cpu_description()}")
    print(f"{float_graph}: {len(x_val)} validation faces, float32 accuracy {(float_probs.argmax(1) == y_val).mean():.4f}")
    face = (x_val[:1, ..., None] / 255.0).astype(np.float32)
    rows, sessions = {}, {}
    variants = [(layout, n) for n in counts for layout in args.layouts]
    with tempfile.TemporaryDirectory() as tmp:
        for layout, n in variants:
            calibration = int8_calibration_images({**params, "export": {**params["export"], "calibration_images": n}})
            path = quantize_int8(float_graph, Path(tmp) / f"{layout}_{n}.onnx", calibration, weights=layout)
            sessions[layout, n] = cpu_session(path, args.threads)  # as served: fused kernels
            fused = predict_probabilities(session_predict(sessions[layout, n]), x_val, "none")
            exact = predict_probabilities(session_predict(exact_session(path, args.threads)), x_val, "none")
            scored = classification_metrics(y_val, exact.argmax(1), classes)
            rows[layout, n] = {"accuracy": scored["accuracy"], "macro_f1": scored["macro_f1"],
                               "fused_exact_agreement": float((fused.argmax(1) == exact.argmax(1)).mean()),
                               "fused_exact_max_diff": float(np.abs(fused - exact).max()),
                               "float32_agreement": float((exact.argmax(1) == float_probs.argmax(1)).mean()),
                               "weight_peak": signed_weight_peak(path), "ms": []}
        for _ in range(args.rounds):
            for variant in variants:
                rows[variant]["ms"].append(ms_per_face(session_predict(sessions[variant]), face, args.repeats))
    print(f"\n| int8_weights | calibration images | accuracy (exact) | macro-F1 | fused = exact | max diff | = float32 top-1 "
          f"| max abs weight | ms per face ({args.threads} threads, median of {args.rounds}) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (layout, n), r in rows.items():
        peak = r["weight_peak"] or "u8"
        print(f"| {layout} | {n} | {r['accuracy']:.4f} | {r['macro_f1']:.4f} | {r['fused_exact_agreement']:.4f} "
              f"| {r['fused_exact_max_diff']:.3f} | {r['float32_agreement']:.4f} | {peak} "
              f"| {statistics.median(r['ms']):.2f} ({min(r['ms']):.2f}-{max(r['ms']):.2f}) |")


if __name__ == "__main__":
    main()
