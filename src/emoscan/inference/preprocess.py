"""Face crop -> network input. The same scaling as training (`emoscan.training.nets.augment.make_dataset`):
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


def square_box(box: Box, scale: float = 1.0) -> Box:
    """The square of side `scale` x the box's longer side, centred on the box. FER-2013's faces are
    square crops about as tall as the detector's box but wider (its boxes are about 0.8 as wide as
    tall on FER faces), so resizing the box itself to 48x48 would stretch every face sideways."""
    side = max(1, round(max(box.width, box.height) * scale))
    x = round(box.x + (box.width - side) / 2)
    y = round(box.y + (box.height - side) / 2)
    return Box(x, y, side, side, box.score, box.roll)


def crop_face(gray: np.ndarray, box: Box, scale: float = 1.0, align_above: float | None = None) -> np.ndarray:
    """The face in `box` as the network sees it: the square around it (`square_box`), its border
    pixels repeated where it leaves the image, resized to 48x48. When `align_above` is set and the
    box's eye line tilts by at least that many degrees, the square is first rotated about its centre
    so that the eyes are level."""
    sq = square_box(box, scale)
    if align_above is not None and abs(box.roll) >= align_above:
        centre = (sq.x + sq.width / 2, sq.y + sq.height / 2)
        matrix = cv2.getRotationMatrix2D(centre, box.roll, 1.0)
        matrix[:, 2] += (sq.width / 2 - centre[0], sq.height / 2 - centre[1])  # the square's centre -> its middle
        crop = cv2.warpAffine(gray, matrix, (sq.width, sq.height), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)
    else:
        crop = square_crop(gray, sq)
    if crop.size == 0:
        return np.zeros((INPUT_SIZE, INPUT_SIZE), np.uint8)
    interpolation = cv2.INTER_AREA if min(crop.shape) >= INPUT_SIZE else cv2.INTER_LINEAR
    return cv2.resize(crop, (INPUT_SIZE, INPUT_SIZE), interpolation=interpolation)


def square_crop(gray: np.ndarray, sq: Box) -> np.ndarray:
    """The pixels of square `sq`, border pixels repeated where it leaves the image."""
    h, w = gray.shape[:2]
    x0, y0, x1, y1 = sq.x, sq.y, sq.x + sq.width, sq.y + sq.height
    crop = gray[max(0, y0):min(h, y1), max(0, x0):min(w, x1)]
    pad = ((max(0, -y0), max(0, y1 - h)), (max(0, -x0), max(0, x1 - w)))
    if crop.size and any(any(p) for p in pad):
        crop = np.pad(crop, pad, mode="edge")
    return crop


def faces_to_batch(gray: np.ndarray, boxes: list[Box], scale: float = 1.0,
                   align_above: float | None = None) -> np.ndarray:
    """All faces of one image as one (N, 48, 48, 1) float32 batch (crops as `crop_face`)."""
    if not boxes:
        return np.zeros((0, INPUT_SIZE, INPUT_SIZE, 1), np.float32)
    return normalize(np.stack([crop_face(gray, b, scale, align_above) for b in boxes]))
