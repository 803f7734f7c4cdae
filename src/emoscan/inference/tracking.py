"""Steady labels for live video: faces are tracked across frames by box overlap and each track's
probabilities are averaged over its last `window` frames."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from itertools import count

import numpy as np

from emoscan.inference.types import Box


@dataclass
class Track:
    """One face followed over frames."""

    track_id: int
    box: Box
    history: deque = field(default_factory=deque)
    missed: int = 0

    def smoothed(self) -> np.ndarray:
        return np.mean(np.stack(self.history), axis=0)


class FaceTracker:
    """Greedy IoU matching of detections to tracks; probabilities smoothed per track."""

    def __init__(self, window: int = 8, min_iou: float = 0.3, max_missed: int = 5) -> None:
        self.window, self.min_iou, self.max_missed = max(1, window), min_iou, max_missed
        self.tracks: list[Track] = []
        self._ids = count(1)

    def update(self, boxes: list[Box], probabilities: np.ndarray) -> list[tuple[Track, np.ndarray]]:
        """Feed one frame's detections; return (track, smoothed probabilities) per detection."""
        pairs = sorted(((box.iou(t.box), i, j) for i, box in enumerate(boxes) for j, t in enumerate(self.tracks)),
                       reverse=True)
        assigned: dict[int, Track] = {}
        used: set[int] = set()
        for overlap, i, j in pairs:
            if overlap < self.min_iou:
                break
            if i not in assigned and j not in used:
                assigned[i] = self.tracks[j]
                used.add(j)
        for j, track in enumerate(self.tracks):
            if j not in used:
                track.missed += 1
        out = []
        for i, box in enumerate(boxes):
            track = assigned.get(i)
            if track is None:
                track = Track(next(self._ids), box, deque(maxlen=self.window))
                self.tracks.append(track)
            track.box, track.missed = box, 0
            track.history.append(np.asarray(probabilities[i], dtype=np.float32))
            out.append((track, track.smoothed()))
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed]
        return out
