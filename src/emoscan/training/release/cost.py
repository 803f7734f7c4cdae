"""What a served bundle costs per face: its convolutions' multiply-adds (from the graph), its file
size, and its time at batch 1 through the serving classifier on this CPU (for the model card;
`benchmarks/bench_model.py` compares models side by side)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx

from emoscan.hardware import cpu_kind
from emoscan.inference.classifier import EmotionClassifier


def multiply_adds(onnx_path: Path) -> int:
    """Multiply-adds of the graph's convolutions for one face: each one's output pixels (ONNX shape
    inference) times its kernel's size; a quantized graph's weights reach Conv through DequantizeLinear."""
    graph = onnx.shape_inference.infer_shapes(onnx.load(str(onnx_path))).graph
    shapes = {w.name: tuple(w.dims) for w in graph.initializer}
    for node in graph.node:
        if node.op_type == "DequantizeLinear" and node.input[0] in shapes:
            shapes[node.output[0]] = shapes[node.input[0]]
    for value in graph.value_info:
        shapes[value.name] = tuple(d.dim_value for d in value.type.tensor_type.shape.dim)
    return sum(int(np.prod(shapes[n.output[0]][2:])) * int(np.prod(shapes[n.input[1]]))
               for n in graph.node if n.op_type == "Conv")


def ms_per_face(predict: Callable[[np.ndarray], np.ndarray], inputs: np.ndarray, repeats: int = 1000) -> float:
    """Median ms of `predict` on one face (the first of `inputs`) at batch 1, after a warm-up."""
    one = inputs[:1]
    for _ in range(100):
        predict(one)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        predict(one)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def bundle_ms_per_face(bundle: Path, threads: int = 2, rounds: int = 5, repeats: int = 300) -> float:
    """`ms_per_face` through the serving classifier (the bundle's own test-time augmentation), the
    lowest of `rounds` medians, since load from other work only adds."""
    predict = EmotionClassifier(bundle, threads=threads).predict
    face = np.full((1, 48, 48, 1), 0.5, np.float32)
    return min(ms_per_face(predict, face, repeats) for _ in range(rounds))


def cost_words(bundle: Path, parameters: int, threads: int = 2) -> str:
    """The card's sentence on the bundle's cost, timed here and naming this CPU."""
    onnx_path = bundle / "model.onnx"
    return (f"{parameters:,} parameters, a {onnx_path.stat().st_size / 1e6:.2f} MB `model.onnx`,"
            f" {multiply_adds(onnx_path) / 1e6:.0f}M multiply-adds per face; {bundle_ms_per_face(bundle, threads):.2f} ms"
            f" per face at batch 1 on {threads} threads (the lowest of five medians of 300, measured when shipped,"
            f" on {cpu_kind()}; `python benchmarks/bench_model.py --model {bundle}` on any machine).")
