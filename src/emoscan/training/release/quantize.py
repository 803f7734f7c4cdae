"""Post-training int8 quantization of the ONNX graph with ONNX Runtime's static quantizer, and the
checks that its answers are the same on every x86 CPU.

Convolutions and matrix products run on int8: about 3x faster per face at batch 1 than float32.
Activation ranges come from calibration images of the training split, so validation stays clean.

Why the weights default to 7 bits (`export.int8_weights: signed7`): ONNX Runtime's fused u8 x s8
kernels differ by CPU. With VNNI or AMX (recent Intel Xeon) the products accumulate straight into
int32; on AVX2-only CPUs (AMD EPYC before Zen 4) they go through VPMADDUBSW, which adds each pair
of u8 x s8 products into an int16 that saturates at 32767 (ONNX Runtime's documented U8S8
saturation). Activations reach 255, so a pair cannot saturate only while every weight stays
within +-64 (255 x 64 x 2 = 32640): 8-bit weights changed one top-1 answer in 13 there.
`exact_session` runs the quantized graph's own arithmetic (DequantizeLinear -> float operator ->
QuantizeLinear, no fused integer kernels), the reference the export stage compares the served
session with.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

#: export.int8_weights -> (ONNX Runtime weight type, reduce_range): signed7 is |w| <= 64 (no pair of
#: u8 x s8 products can saturate int16 on any CPU), signed8 |w| <= 127 (exact only with VNNI/AMX),
#: unsigned8 u8 x u8 (kernels without int16 pair sums, slower with VNNI).
WEIGHT_LAYOUTS = {"signed7": (QuantType.QInt8, True), "signed8": (QuantType.QInt8, False),
                  "unsigned8": (QuantType.QUInt8, False)}
#: The largest |int8 weight| whose u8 x s8 pair sums fit int16 (255 x 64 x 2 = 32640 <= 32767).
SATURATION_FREE_WEIGHT = 64
#: Operators whose int8 weights ONNX Runtime multiplies with u8 activations in its fused kernels.
_MATRIX_OPS = ("Conv", "MatMul", "Gemm", "ConvTranspose")


class _BatchReader(CalibrationDataReader):
    """Feeds (N, 48, 48, 1) float32 batches to the calibrator."""

    def __init__(self, input_name: str, images: np.ndarray, batch_size: int = 64) -> None:
        self._batches = iter([{input_name: images[i:i + batch_size]} for i in range(0, len(images), batch_size)])

    def get_next(self) -> dict | None:
        return next(self._batches, None)


def quantize_int8(src: Path, dst: Path, calibration_images: np.ndarray, weights: str = "signed7") -> Path:
    """Write `dst`, the int8 (QDQ, per-channel weights laid out as `weights`, one of WEIGHT_LAYOUTS,
    uint8 activations, min-max ranges) version of the float32 graph `src`, calibrated on
    `calibration_images` ((N, 48, 48, 1) float32 in [0, 1])."""
    if weights not in WEIGHT_LAYOUTS:
        raise ValueError(f"int8 weights {weights!r}: expected one of {tuple(WEIGHT_LAYOUTS)}")
    weight_type, reduce_range = WEIGHT_LAYOUTS[weights]
    input_name = onnx.load(str(src), load_external_data=False).graph.input[0].name
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        # shape inference + graph optimisation first, as ONNX Runtime recommends before quantizing
        quant_pre_process(str(src), str(prepared), skip_symbolic_shape=True)
        quantize_static(str(prepared), str(dst), _BatchReader(input_name, calibration_images),
                        quant_format=QuantFormat.QDQ, per_channel=True, reduce_range=reduce_range,
                        activation_type=QuantType.QUInt8, weight_type=weight_type,
                        calibrate_method=CalibrationMethod.MinMax)
    return dst


def signed_weight_peak(path: Path) -> int:
    """The largest |value| of the signed int8 weight tensors that feed a matrix operator (Conv,
    MatMul, Gemm) of the QDQ graph at `path`; 0 where there are none (e.g. unsigned weights)."""
    graph = onnx.load(str(path)).graph
    initializers = {t.name: t for t in graph.initializer}
    consumers: dict[str, list[str]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node.op_type)
    dequantized = {node.output[0]: node.input[0] for node in graph.node if node.op_type == "DequantizeLinear"}
    peak = 0
    for output, source in dequantized.items():
        tensor = initializers.get(source)
        if tensor is None or tensor.data_type != onnx.TensorProto.INT8:
            continue
        if any(op in _MATRIX_OPS for op in consumers.get(output, [])):
            peak = max(peak, int(np.abs(numpy_helper.to_array(tensor).astype(np.int32)).max()))
    return peak


def exact_session(path: Path, threads: int = 0) -> ort.InferenceSession:
    """A session of the int8 graph at `path` with ONNX Runtime's graph optimizations off: every
    DequantizeLinear -> float operator -> QuantizeLinear runs as written, the same arithmetic on
    every CPU (the reference for the fused integer kernels, which differ by CPU)."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
