"""Drawing results on frames: box, emotion and confidence, a bar per class, frame rate."""

from __future__ import annotations

import cv2
import numpy as np

from emoscan.inference.types import Face

# BGR colour per emotion name (FER-2013's seven and FER+'s contempt)
COLORS = {"angry": (40, 40, 220), "contempt": (120, 80, 20), "disgust": (40, 140, 40), "fear": (160, 60, 160),
          "happy": (40, 200, 240), "neutral": (200, 200, 200), "sad": (200, 120, 40), "surprise": (40, 160, 255)}


def draw_face(frame: np.ndarray, face: Face, bars: bool = True) -> None:
    """Box, 'emotion 87%' label and (optionally) the class probabilities as small bars."""
    b, color = face.box, COLORS.get(face.emotion, (0, 255, 0))
    thickness = max(1, round(min(frame.shape[:2]) / 300))
    cv2.rectangle(frame, (b.x, b.y), (b.x + b.width, b.y + b.height), color, thickness)
    label = f"{face.emotion} {face.confidence:.0%}"
    scale = max(0.4, b.width / 250)
    (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    top = max(th + base, b.y)
    cv2.rectangle(frame, (b.x, top - th - base), (b.x + tw, top), color, cv2.FILLED)
    cv2.putText(frame, label, (b.x, top - base), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)
    if not bars:
        return
    x0 = min(b.x + b.width + 4, frame.shape[1] - 90)
    for i, (name, p) in enumerate(face.probabilities.items()):
        y = b.y + i * 12
        if y + 10 > frame.shape[0]:
            break
        cv2.rectangle(frame, (x0, y), (x0 + int(60 * p), y + 9), COLORS.get(name, color), cv2.FILLED)
        cv2.putText(frame, name[:3], (x0 + 62, y + 8), cv2.FONT_HERSHEY_SIMPLEX, 0.3, (255, 255, 255), 1,
                    cv2.LINE_AA)


def draw_faces(frame: np.ndarray, faces: list[Face], bars: bool = True) -> np.ndarray:
    """Draw every face on `frame` in place and return it."""
    for face in faces:
        draw_face(frame, face, bars)
    return frame


def draw_fps(frame: np.ndarray, fps: float) -> None:
    """Frame rate in the top-left corner."""
    cv2.putText(frame, f"{fps:.1f} FPS", (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 255, 0), 2, cv2.LINE_AA)
