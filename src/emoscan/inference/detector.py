"""Face detection with libfacedetection's YuNet CNN (the `yuface` wheel: BSD licence, weights
compiled into the package, nothing downloaded). Frames are downscaled to `detection_max_side`
before detection and boxes are mapped back to the original pixels."""

from __future__ import annotations

import os
import threading
import warnings

import cv2
import numpy as np

from emoscan.inference.types import Box

DETECTOR_NAME = "YuNet (libfacedetection, yuface 2023.5.1)"


def eye_line_roll(landmarks: np.ndarray) -> float:
    """Tilt in degrees of the line from the face's right eye to its left eye (YuNet's first two of
    five landmarks, x y pairs), 0 for level eyes."""
    right_x, right_y, left_x, left_y = (float(v) for v in landmarks[:4])
    return float(np.degrees(np.arctan2(left_y - right_y, left_x - right_x)))


class FaceDetector:
    """Finds every face in a BGR image; boxes sorted largest first."""

    def __init__(self, score_threshold: float = 0.6, min_face_size: int = 24, max_side: int = 480,
                 threads: int = 1, max_faces: int = 32) -> None:
        # libgomp reads OMP_NUM_THREADS once, when yuface is first imported; with more threads
        # than free cores its spin-waiting makes detection ~10x slower on 2 cores.
        os.environ.setdefault("OMP_NUM_THREADS", str(threads))
        import yuface

        self._detect = yuface.detect
        self._lock = threading.Lock()  # the native detector keeps shared buffers
        self.score_threshold = score_threshold
        self.min_face_size = min_face_size
        self.max_side = max_side
        self.max_faces = max_faces

    def detect(self, image: np.ndarray) -> list[Box]:
        """Detect faces in a uint8 BGR (or grayscale) image."""
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        elif image.shape[2] == 4:
            image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
        h, w = image.shape[:2]
        scale = min(1.0, self.max_side / max(h, w)) if self.max_side else 1.0
        small = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))),
                           interpolation=cv2.INTER_AREA) if scale < 1.0 else image
        with self._lock, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # yuface warns on large inputs; we downscale already
            confs, boxes, landmarks = self._detect(np.ascontiguousarray(small), conf=self.score_threshold)
        faces = []
        for conf, (bx, by, bw, bh), points in zip(confs, boxes, landmarks):
            x0, y0 = max(0, int(bx / scale)), max(0, int(by / scale))
            x1, y1 = min(w, int((bx + bw) / scale)), min(h, int((by + bh) / scale))
            if min(x1 - x0, y1 - y0) >= self.min_face_size:
                faces.append(Box(x0, y0, x1 - x0, y1 - y0, float(conf) / 100.0, eye_line_roll(points)))
        faces.sort(key=lambda b: b.area, reverse=True)
        return faces[: self.max_faces]
