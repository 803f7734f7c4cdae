"""YuNet (Wu et al., 2023; libfacedetection.train, Apache-2.0) run by ONNX Runtime. The model files
are vendored beside this module (`models/`, with their licence): nothing is downloaded.

The network takes BGR float32 0-255, NCHW, height and width multiples of 32: the image is padded
at the bottom and right (never stretched). Per stride s in 8, 16, 32 it gives, for each cell (row r,
column c) of the (H/s, W/s) grid, cls and obj scores, a box (dx, dy, log w, log h) and five
landmarks: score = sqrt(cls * obj), centre = ((c, r) + (dx, dy)) * s, size = exp(log w, log h) * s,
landmark k = ((c, r) + kps[2k:2k+2]) * s. Boxes above the score threshold go through NMS."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from emoscan.inference.detectors.base import FaceDetector
from emoscan.inference.runtime import cpu_session

MODELS = Path(__file__).resolve().parent / "models"
STRIDES = (8, 16, 32)


@lru_cache(maxsize=32)
def cell_grid(height: int, width: int, stride: int) -> np.ndarray:
    """(cells, 2) float32 column, row of every cell of the stride's grid, row-major as YuNet lays them out."""
    rows, cols = np.mgrid[0:height // stride, 0:width // stride]
    return np.stack([cols.ravel(), rows.ravel()], axis=1).astype(np.float32)


def input_blob(image: np.ndarray) -> np.ndarray:
    """YuNet's input for a uint8 BGR image: (1, 3, H, W) float32 0-255, H and W rounded up to
    multiples of 32 by zeros at the bottom and right."""
    h, w = image.shape[:2]
    ph, pw = -(-h // 32) * 32, -(-w // 32) * 32
    blob = np.empty((1, 3, ph, pw), np.float32) if (ph, pw) == (h, w) else np.zeros((1, 3, ph, pw), np.float32)
    for c, channel in enumerate(cv2.split(image)):  # plane by plane: half the time of one strided transpose
        blob[0, c, :h, :w] = channel
    return blob


class YuNetOnnx(FaceDetector):
    """YuNet in ONNX Runtime; subclasses name the model file."""

    model_file = ""

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self.session = cpu_session(MODELS / self.model_file, self.threads)
        self.outputs = [f"{kind}_{s}" for s in STRIDES for kind in ("cls", "obj", "bbox", "kps")]

    def find(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        blob = input_blob(image)
        ph, pw = blob.shape[2:]
        out = self.session.run(self.outputs, {"input": blob})
        scores, boxes, landmarks = [], [], []
        for i, stride in enumerate(STRIDES):
            cls, obj, bbox, kps = (o[0] for o in out[4 * i: 4 * i + 4])
            score = np.sqrt(np.clip(cls[:, 0], 0, 1) * np.clip(obj[:, 0], 0, 1))
            keep = score >= self.score_threshold
            if not keep.any():
                continue
            cells = cell_grid(ph, pw, stride)[keep]
            centre = (cells + bbox[keep, :2]) * stride
            size = np.exp(bbox[keep, 2:]) * stride
            scores.append(score[keep])
            boxes.append(np.concatenate([centre - size / 2, size], axis=1))
            landmarks.append(((np.tile(cells, 5) + kps[keep]) * stride))
        if not scores:
            return np.zeros(0, np.float32), np.zeros((0, 4), np.float32), np.zeros((0, 10), np.float32)
        scores, boxes, landmarks = np.concatenate(scores), np.concatenate(boxes), np.concatenate(landmarks)
        kept = np.asarray(cv2.dnn.NMSBoxes(boxes.tolist(), scores.tolist(), self.score_threshold, self.nms_iou),
                          np.int64).reshape(-1)
        return scores[kept], boxes[kept], landmarks[kept]


class YuNetS(YuNetOnnx):
    """YuNet-s (54,608 parameters; WIDER FACE val AP 0.887 / 0.871 / 0.768)."""

    name = "YuNet-s (ONNX Runtime)"
    model_file = "yunet_s_dynamic.onnx"


class YuNetN(YuNetOnnx):
    """YuNet-n (75,856 parameters; WIDER FACE val AP 0.892 / 0.883 / 0.811: better on small faces)."""

    name = "YuNet-n (ONNX Runtime)"
    model_file = "yunet_n_dynamic.onnx"
