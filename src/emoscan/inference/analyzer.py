"""Find every face in an image or video and classify it: the one code path behind the service,
the CLI and live mode."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

from emoscan.inference.classifier import EmotionClassifier
from emoscan.inference.detector import FaceDetector
from emoscan.inference.preprocess import faces_to_batch, to_gray
from emoscan.inference.settings import InferenceSettings
from emoscan.inference.types import Box, Face


class VideoDecodeError(ValueError):
    """The file cannot be opened as a video or has no decodable frames."""


def format_timestamp(seconds: float) -> str:
    """Seconds -> "HH:MM:SS.mmm"."""
    millis = int(round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


@dataclass
class FrameResult:
    """Faces found in one analysed video frame."""

    frame: int
    timestamp: float
    faces: list[Face]

    def to_dict(self) -> dict:
        return {"frame": self.frame, "timestamp": format_timestamp(self.timestamp),
                "faces": [f.to_dict(box_as_list=True) for f in self.faces]}


@dataclass
class VideoAnalysis:
    """Per-frame results and the summary of a video."""

    results: list[FrameResult]
    fps: float
    video_frames: int
    duration: float
    width: int
    height: int
    classes: tuple[str, ...] = field(default_factory=tuple)

    def summary(self) -> dict:
        emotions = Counter(f.emotion for r in self.results for f in r.faces)
        total = sum(emotions.values())
        return {
            "total_frames": len(self.results),
            "faces_detected": total,
            "dominant_emotion": emotions.most_common(1)[0][0] if total else None,
            "emotion_distribution": {c: round(emotions.get(c, 0) / total, 4) if total else 0.0
                                     for c in self.classes},
            "duration": round(self.duration, 3),
            "fps": round(self.fps, 3),
            "video_frames": self.video_frames,
            "width": self.width,
            "height": self.height,
        }

    def to_dict(self) -> dict:
        return {"results": [r.to_dict() for r in self.results], "summary": self.summary()}


class FaceAnalyzer:
    """Detector + classifier with all faces of a frame classified in one batch."""

    def __init__(self, classifier: EmotionClassifier, settings: InferenceSettings) -> None:
        self.settings = settings
        self.classifier = classifier
        self.detector = FaceDetector(settings.score_threshold, settings.min_face_size,
                                     settings.detection_max_side, settings.detector_threads,
                                     settings.max_faces)

    @property
    def labels(self) -> tuple[str, ...]:
        return self.classifier.labels

    def classify_boxes(self, image: np.ndarray, boxes: list[Box]) -> np.ndarray:
        """(N, 7) probabilities of the given face boxes."""
        return self.classifier.predict(faces_to_batch(to_gray(image), boxes, self.settings.face_crop_scale,
                                                    self.settings.face_align_degrees))

    def analyze_image(self, image: np.ndarray) -> list[Face]:
        """Every face in a BGR image, largest first."""
        boxes = self.detector.detect(image)
        probs = self.classify_boxes(image, boxes)
        return [self.make_face(box, p) for box, p in zip(boxes, probs)]

    def make_face(self, box: Box, probs: np.ndarray) -> Face:
        best = int(np.argmax(probs))
        return Face(box, self.labels[best], float(probs[best]),
                    {label: float(p) for label, p in zip(self.labels, probs)})

    def analyze_video(self, path: str, frame_rate: float = 1.0, max_frames: int | None = None,
                      progress: Callable[[int, int], None] | None = None,
                      on_frame: Callable[[np.ndarray, FrameResult | None, float], None] | None = None) -> VideoAnalysis:
        """Analyse `frame_rate` frames per second of video (every frame if the video is slower).

        `on_frame(frame, result, fps)` sees every decoded frame (result None for frames not
        analysed), e.g. to write an annotated copy at the video's frame rate; `progress(done, total)`
        reports decoded frames.
        """
        if frame_rate <= 0:
            raise ValueError(f"frame_rate must be > 0, got {frame_rate}")
        capture = cv2.VideoCapture(path)
        if not capture.isOpened():
            raise VideoDecodeError(f"{path}: not a readable video")
        try:
            fps = capture.get(cv2.CAP_PROP_FPS) or 0.0
            fps = fps if 0 < fps < 1000 else 25.0
            total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
            width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH) or 0)
            height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
            results: list[FrameResult] = []
            decoded = 0
            next_time = 0.0
            for index, frame in iterate_frames(capture):
                decoded += 1
                timestamp = index / fps
                result = None
                if timestamp + 1e-9 >= next_time and (max_frames is None or len(results) < max_frames):
                    result = FrameResult(index, timestamp, self.analyze_image(frame))
                    results.append(result)
                    next_time += 1.0 / frame_rate
                    while next_time <= timestamp:
                        next_time += 1.0 / frame_rate
                if on_frame is not None:
                    on_frame(frame, result, fps)
                if progress is not None:
                    progress(decoded, total)
                if max_frames is not None and len(results) >= max_frames and on_frame is None:
                    break
        finally:
            capture.release()
        if decoded == 0:
            raise VideoDecodeError(f"{path}: no decodable video frames")
        duration = max(total, decoded) / fps
        return VideoAnalysis(results, fps, max(total, decoded), duration, width, height, self.labels)


def iterate_frames(capture: cv2.VideoCapture) -> Iterator[tuple[int, np.ndarray]]:
    """(index, BGR frame) for every decodable frame."""
    index = 0
    while True:
        ok, frame = capture.read()
        if not ok or frame is None:
            return
        yield index, frame
        index += 1
