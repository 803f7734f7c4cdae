"""Find every face in an image or video and classify it: the one code path behind the service,
the CLI and live mode."""

from __future__ import annotations

import queue
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import cv2
import numpy as np

from emoscan.inference.classifier import EmotionClassifier
from emoscan.inference.detectors import make_detector
from emoscan.inference.preprocess import faces_to_batch, to_gray
from emoscan.settings import InferenceSettings
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
        self.detector = self._new_detector(settings.detector_threads)
        self._video_detectors: list = []  # one-thread detectors, made on the first video analysed with several

    def _new_detector(self, threads: int):
        s = self.settings
        return make_detector(s.detector, score_threshold=s.score_threshold, min_face_size=s.min_face_size,
                             max_side=s.detection_max_side, threads=threads, max_faces=s.max_faces)

    @property
    def labels(self) -> tuple[str, ...]:
        return self.classifier.labels

    def classify_boxes(self, image: np.ndarray, boxes: list[Box]) -> np.ndarray:
        """(N, classes) probabilities of the given face boxes."""
        return self.classifier.predict(faces_to_batch(to_gray(image), boxes, self.settings.face_crop_scale,
                                                    self.settings.face_align_degrees))

    def analyze_image(self, image: np.ndarray) -> list[Face]:
        """Every face in a BGR image, largest first."""
        return self.analyze_images([image])[0]

    def analyze_images(self, images: list[np.ndarray]) -> list[list[Face]]:
        """Every face of each image, largest first, as `analyze_image` finds them, with the faces of
        all the images classified in one call."""
        boxes = [self.detector.detect(image) for image in images]
        crops = [faces_to_batch(to_gray(image), found, self.settings.face_crop_scale, self.settings.face_align_degrees)
                 for image, found in zip(images, boxes)]
        probs = self.classifier.predict(np.concatenate(crops)) if crops else None
        faces, start = [], 0
        for found in boxes:
            faces.append([self.make_face(box, p) for box, p in zip(found, probs[start:start + len(found)])])
            start += len(found)
        return faces

    def make_face(self, box: Box, probs: np.ndarray) -> Face:
        best = int(np.argmax(probs))
        return Face(box, self.labels[best], float(probs[best]),
                    {label: float(p) for label, p in zip(self.labels, probs)})

    def analyze_video(self, path: str, frame_rate: float = 1.0, max_frames: int | None = None,
                      progress: Callable[[int, int], None] | None = None,
                      on_frame: Callable[[np.ndarray, FrameResult | None, float], None] | None = None) -> VideoAnalysis:
        """Analyse `frame_rate` frames per second of video (every frame if the video is slower).

        A reader thread decodes ahead (OpenCV's decoder releases the GIL) and only grabs, without
        converting, the frames that are not analysed; the faces of up to `CLASSIFY_FRAMES` analysed
        frames are classified in one ONNX Runtime call. `on_frame(frame, result, fps)` sees every
        decoded frame in order (result None for frames not analysed), e.g. to write an annotated copy
        at the video's frame rate; `progress(done, total)` reports decoded frames.
        """
        if frame_rate <= 0:
            raise ValueError(f"frame_rate must be > 0, got {frame_rate}")
        capture = cv2.VideoCapture(path)
        if not capture.isOpened():
            raise VideoDecodeError(f"{path}: not a readable video")
        fps = capture.get(cv2.CAP_PROP_FPS) or 0.0
        fps = fps if 0 < fps < 1000 else 25.0
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH) or 0)
        height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
        schedule = FrameSchedule(fps, frame_rate, max_frames)
        results: list[FrameResult] = []
        pending: list[tuple[int, np.ndarray | None, list[Box], np.ndarray]] = []
        batch_frames = 1 if on_frame is not None else CLASSIFY_FRAMES

        def flush() -> None:
            crops = [c for *_, c in pending]
            probs = self.classifier.predict(np.concatenate(crops)) if crops else None
            start = 0
            for index, frame, boxes, _ in pending:
                faces = [self.make_face(b, p) for b, p in zip(boxes, probs[start:start + len(boxes)])]
                start += len(boxes)
                results.append(FrameResult(index, index / fps, faces))
                if on_frame is not None:
                    on_frame(frame, results[-1], fps)
            pending.clear()

        def crop(index: int, frame: np.ndarray, boxes: list[Box]) -> None:
            crops = faces_to_batch(to_gray(frame), boxes, self.settings.face_crop_scale,
                                   self.settings.face_align_degrees)
            pending.append((index, None if on_frame is None else frame, boxes, crops))
            if len(pending) >= batch_frames:
                flush()

        decoded = 0
        # with on_frame every frame is handed over in order, so frames are detected one at a time;
        # without, `video_detectors` frames are detected at once (ONNX Runtime releases the GIL),
        # their results taken in frame order
        workers = 1 if on_frame is not None else self.settings.video_detectors
        in_flight: deque = deque()

        def settle(keep: int) -> None:  # the oldest detections, in frame order, until `keep` are left
            while len(in_flight) > keep:
                done_index, done_frame, boxes = in_flight.popleft()
                crop(done_index, done_frame, boxes.result())

        with FrameReader(capture, schedule, keep_all=on_frame is not None) as frames, \
                DetectorPool(self._detectors(workers)) as detect:
            for index, frame, analysed in frames:
                decoded = index + 1
                if analysed:
                    in_flight.append((index, frame, detect(frame)))
                    settle((workers - 1) * 2)  # keep the pool busy, memory bounded
                elif on_frame is not None:
                    on_frame(frame, None, fps)
                if progress is not None:
                    progress(decoded, total)
            settle(0)
            flush()
        if decoded == 0:
            raise VideoDecodeError(f"{path}: no decodable video frames")
        duration = max(total, decoded) / fps
        return VideoAnalysis(results, fps, max(total, decoded), duration, width, height, self.labels)

    def _detectors(self, count: int) -> list:
        """`count` detectors with this analyzer's settings, each with its own ONNX Runtime session:
        the analyzer's own for one, else `count` that run on one thread each (the frames detected
        at once already keep the cores busy)."""
        if count == 1:
            return [self.detector]
        while len(self._video_detectors) < count:
            self._video_detectors.append(self._new_detector(1))
        return self._video_detectors[:count]


class DetectorPool:
    """Face detection of video frames on a thread pool, each detector used by one thread at a
    time: `detect(frame)` returns a future of the frame's boxes. With one detector it runs in the
    caller's thread (a future already done)."""

    def __init__(self, detectors: list) -> None:
        self.free: queue.SimpleQueue = queue.SimpleQueue()
        for detector in detectors:
            self.free.put(detector)
        self.single = detectors[0] if len(detectors) == 1 else None
        self.pool = None if self.single else ThreadPoolExecutor(len(detectors), thread_name_prefix="emoscan-detect")

    def _run(self, frame: np.ndarray) -> list[Box]:
        detector = self.free.get()
        try:
            return detector.detect(frame)
        finally:
            self.free.put(detector)

    def __enter__(self) -> Callable:
        def detect(frame: np.ndarray):
            if self.pool is None:
                done: Future = Future()
                done.set_result(self.single.detect(frame))
                return done
            return self.pool.submit(self._run, frame)
        return detect

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


#: analysed frames whose faces are classified together in one call (video files without on_frame)
CLASSIFY_FRAMES = 8


class FrameSchedule:
    """Which frames of a video `frame_rate` analyses: the first, then the first at or after each
    1/frame_rate seconds, at most `max_frames` of them."""

    def __init__(self, fps: float, frame_rate: float, max_frames: int | None) -> None:
        self.fps, self.step, self.max_frames = fps, 1.0 / frame_rate, max_frames
        self.next_time, self.count = 0.0, 0

    def analyse(self, index: int) -> bool:
        """Whether frame `index` is analysed (call once per frame, in order)."""
        if self.max_frames is not None and self.count >= self.max_frames:
            return False
        timestamp = index / self.fps
        if timestamp + 1e-9 < self.next_time:
            return False
        self.count += 1
        self.next_time += self.step
        while self.next_time <= timestamp:
            self.next_time += self.step
        return True

    @property
    def done(self) -> bool:
        return self.max_frames is not None and self.count >= self.max_frames


class FrameReader:
    """Decodes a video on a background thread into a bounded queue of (index, frame, analysed):
    frames that are not analysed are grabbed without conversion (frame None) unless `keep_all`;
    reading stops when the schedule has all its frames and nothing else wants them."""

    _END = object()

    def __init__(self, capture: cv2.VideoCapture, schedule: FrameSchedule, keep_all: bool, depth: int = 16) -> None:
        self.capture, self.schedule, self.keep_all = capture, schedule, keep_all
        self.queue: queue.Queue = queue.Queue(maxsize=depth)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._read, name="emoscan-video-reader", daemon=True)

    def _read(self) -> None:
        index = 0
        try:
            while not self.stop.is_set():
                if self.schedule.done and not self.keep_all:
                    break
                analysed = self.schedule.analyse(index)
                if analysed or self.keep_all:
                    ok, frame = self.capture.read()
                    if not ok or frame is None:
                        break
                else:
                    if not self.capture.grab():
                        break
                    frame = None
                self._put((index, frame, analysed))
                index += 1
        finally:
            self._put(self._END)

    def _put(self, item) -> None:
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def __enter__(self) -> Iterator[tuple[int, np.ndarray | None, bool]]:
        self.thread.start()
        return iter(self.queue.get, self._END)

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()
        self.capture.release()
