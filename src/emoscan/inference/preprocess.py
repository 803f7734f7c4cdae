"""Face crop -> network input. The same scaling as training (`emoscan.model.augment.make_dataset`):
48x48 grayscale, float32 in [0, 1], NHWC."""

from __future__ import annotations

import cv2
import numpy as np

from emoscan.inference.types import Box

INPUT_SIZE = 48
SCALE = 1.0 / 255.0


def to_gray(image: np.ndarray) -> np.ndarray:
    """BGR, BGRA or single-channel uint8 image -> single-channel uint8."""
    if image.ndim == 2:
        return image
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    if image.shape[2] == 1:
        return image[:, :, 0]
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def normalize(faces_u8: np.ndarray) -> np.ndarray:
    """(N, 48, 48) uint8 -> (N, 48, 48, 1) float32 in [0, 1]: the model's input."""
    return (faces_u8.astype(np.float32) * np.float32(SCALE))[..., None]


def crop_face(gray: np.ndarray, box: Box, margin: float = 0.0) -> np.ndarray:
    """Crop `box` (grown by `margin` of its size, clipped to the image) and resize to 48x48."""
    h, w = gray.shape[:2]
    dx, dy = int(box.width * margin), int(box.height * margin)
    x0, y0 = max(0, box.x - dx), max(0, box.y - dy)
    x1, y1 = min(w, box.x + box.width + dx), min(h, box.y + box.height + dy)
    crop = gray[y0:y1, x0:x1]
    if crop.size == 0:
        crop = np.zeros((INPUT_SIZE, INPUT_SIZE), np.uint8)
    interpolation = cv2.INTER_AREA if min(crop.shape) >= INPUT_SIZE else cv2.INTER_LINEAR
    return cv2.resize(crop, (INPUT_SIZE, INPUT_SIZE), interpolation=interpolation)


def faces_to_batch(gray: np.ndarray, boxes: list[Box], margin: float = 0.0) -> np.ndarray:
    """All faces of one image as one (N, 48, 48, 1) float32 batch."""
    if not boxes:
        return np.zeros((0, INPUT_SIZE, INPUT_SIZE, 1), np.float32)
    return normalize(np.stack([crop_face(gray, b, margin) for b in boxes]))
