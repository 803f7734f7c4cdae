"""YuNet as libfacedetection's C++ build (the `yuface` wheel, BSD licence), kept for comparison in
benchmarks/bench_detector.py: `pip install yuface` to use it."""

from __future__ import annotations

import os
import threading
import warnings

import numpy as np

from emoscan.inference.detectors.base import FaceDetector


class YuFace(FaceDetector):
    """libfacedetection's YuNet through `yuface.detect`."""

    name = "YuNet (libfacedetection, yuface)"

    def __init__(self, **options) -> None:
        super().__init__(**options)
        # libgomp reads OMP_NUM_THREADS once, when yuface is first imported; with more threads
        # than free cores its spin-waiting makes detection ~10x slower on 2 cores.
        os.environ.setdefault("OMP_NUM_THREADS", str(self.threads))
        import yuface

        self._detect = yuface.detect
        self._lock = threading.Lock()  # the native detector keeps shared buffers

    def find(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        with self._lock, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # yuface warns on large inputs; callers downscale already
            confs, boxes, landmarks = self._detect(image, conf=self.score_threshold)
        return (np.asarray(confs, np.float32).reshape(-1) / 100.0, np.asarray(boxes, np.float32).reshape(-1, 4),
                np.asarray(landmarks, np.float32).reshape(-1, 10))
