"""Benchmark inputs: a real 640x480 photo with one face (skimage's astronaut) and a video of it."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def face_frame(width: int = 640, height: int = 480) -> np.ndarray:
    """skimage's astronaut photo (one real face) letterboxed into a width x height BGR frame."""
    from skimage import data

    photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    scale = min(width / photo.shape[1], height / photo.shape[0])
    photo = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    frame = np.zeros((height, width, 3), np.uint8)
    y, x = (height - photo.shape[0]) // 2, (width - photo.shape[1]) // 2
    frame[y:y + photo.shape[0], x:x + photo.shape[1]] = photo
    return frame


def write_video(path: Path, frames: int = 150, fps: float = 30.0) -> Path:
    """A 640x480 MP4 of the face frame panning slowly, `frames` long."""
    base = face_frame()
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (640, 480))
    for i in range(frames):
        writer.write(np.roll(base, (i % 40) - 20, axis=1))
    writer.release()
    return path
