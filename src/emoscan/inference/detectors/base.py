"""The face-detector interface: a BGR (or grey) uint8 image in, face boxes in its own pixels out,
largest first. Backends implement `find` on an image already downscaled to `max_side`; the shared
`detect` does the colour conversion, the downscaling, the mapping back and the filtering."""

from __future__ import annotations

from abc import ABC, abstractmethod

import cv2
import numpy as np

from emoscan.inference.types import Box


def eye_line_roll(landmarks: np.ndarray) -> float:
    """Tilt in degrees of the line from the face's right eye to its left eye (YuNet's first two of
    five landmarks, x y pairs), 0 for level eyes."""
    right_x, right_y, left_x, left_y = (float(v) for v in landmarks[:4])
    return float(np.degrees(np.arctan2(left_y - right_y, left_x - right_x)))


def downscale(image: np.ndarray, scale: float) -> np.ndarray:
    """`image` resized by `scale` < 1. Area averaging (which does not alias) costs 5-8x bilinear
    resampling, so it is kept for large factors only; a bilinear shrink to half size or more keeps
    every face the detector finds (benchmarks/bench_detector.py)."""
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 0.5 else cv2.INTER_LINEAR)


class FaceDetector(ABC):
    """Finds every face in an image. `max_side` > 0 downscales larger images to that longest side
    for detection (boxes are mapped back); faces smaller than `min_face_size` pixels (original
    image) are dropped; at most `max_faces`, largest first."""

    #: the name /metadata reports
    name: str = "face detector"

    def __init__(self, score_threshold: float = 0.6, min_face_size: int = 24, max_side: int = 480,
                 threads: int = 1, max_faces: int = 32, nms_iou: float = 0.3) -> None:
        self.score_threshold = score_threshold
        self.min_face_size = min_face_size
        self.max_side = max_side
        self.threads = threads
        self.max_faces = max_faces
        self.nms_iou = nms_iou

    @abstractmethod
    def find(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Faces in a contiguous uint8 BGR image: scores (N,) in [0, 1], boxes (N, 4) as x, y, width,
        height and landmarks (N, 10) (right eye, left eye, nose, mouth corners), in its pixels."""

    def detect(self, image: np.ndarray) -> list[Box]:
        """Detect faces in a uint8 BGR, BGRA or grey image."""
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        elif image.shape[2] == 4:
            image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
        h, w = image.shape[:2]
        scale = min(1.0, self.max_side / max(h, w)) if self.max_side else 1.0
        small = downscale(image, scale) if scale < 1.0 else image
        scores, boxes, landmarks = self.find(np.ascontiguousarray(small))
        faces = []
        for score, (bx, by, bw, bh), points in zip(scores, boxes, landmarks):
            x0, y0 = max(0, int(bx / scale)), max(0, int(by / scale))
            x1, y1 = min(w, int((bx + bw) / scale)), min(h, int((by + bh) / scale))
            if min(x1 - x0, y1 - y0) >= self.min_face_size:
                faces.append(Box(x0, y0, x1 - x0, y1 - y0, float(score), eye_line_roll(points)))
        faces.sort(key=lambda b: b.area, reverse=True)
        return faces[: self.max_faces]
