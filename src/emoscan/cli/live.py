"""`emoscan live`: real-time emotions from a webcam or any OpenCV video source."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from emoscan.cli.common import CliError, add_model_argument, load_analyzer, open_writer
from emoscan.inference.analyzer import FrameReader, FrameSchedule
from emoscan.inference.annotate import draw_faces, draw_fps
from emoscan.inference.tracking import FaceTracker

WINDOW = "emoscan (q to quit)"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("live", help="real-time detection from a webcam, file or stream",
                       description="Draw each face's emotion live. Press q to quit.")
    p.add_argument("--source", default="0", help="camera index, video file or RTSP/HTTP URL (default 0)")
    p.add_argument("--headless", action="store_true", help="no window (servers, tests); use with --output")
    p.add_argument("--output", metavar="OUT", type=Path, help="also write the annotated video (.mp4 or .avi)")
    p.add_argument("--max-frames", type=int, default=0, help="stop after N frames (0 = until the end or q)")
    p.add_argument("--no-bars", action="store_true", help="hide the per-class probability bars")
    add_model_argument(p)
    p.set_defaults(run=run)


def open_source(source: str) -> cv2.VideoCapture:
    """Open a camera index, file or URL, with a clear error when it cannot be read."""
    is_camera = source.isdigit()
    if not is_camera and "://" not in source and not Path(source).is_file():
        raise CliError(f"{source}: no such file (use a camera index, a video file or an RTSP/HTTP URL)")
    capture = cv2.VideoCapture(int(source) if is_camera else source)
    if not capture.isOpened():
        capture.release()
        hint = "no camera found at that index (is it connected and free?)" if is_camera else "not a readable video"
        raise CliError(f"cannot open video source {source}: {hint}")
    return capture


class LatestFrame:
    """A camera or stream read on its own thread, keeping only the newest frame: analysis never
    falls behind the camera, it skips the frames it had no time for."""

    def __init__(self, capture: cv2.VideoCapture) -> None:
        self.capture, self.frame, self.ended = capture, None, False
        self.ready = threading.Condition()
        self.thread = threading.Thread(target=self._read, name="emoscan-live-capture", daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while not self.ended:
            ok, frame = self.capture.read()
            with self.ready:
                if not ok:
                    self.ended = True
                else:
                    self.frame = frame
                self.ready.notify()

    def __iter__(self) -> Iterator[np.ndarray]:
        while True:
            with self.ready:
                self.ready.wait_for(lambda: self.frame is not None or self.ended)
                frame, self.frame = self.frame, None
            if frame is None:
                return
            yield frame

    def close(self) -> None:
        self.ended = True
        self.thread.join(timeout=5)


def frames_of(source: str, capture: cv2.VideoCapture):
    """The frames to analyse: a file's every frame, decoded ahead on a reader thread; a camera's or
    stream's newest frame each time (`LatestFrame`). A context manager yielding an iterator."""
    if source.isdigit() or "://" in source:
        latest = LatestFrame(capture)
        return contextlib.closing(latest)
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    reader = FrameReader(capture, FrameSchedule(fps, fps, None), keep_all=True)
    return _FileFrames(reader)


class _FileFrames:
    def __init__(self, reader: FrameReader) -> None:
        self.reader = reader

    def __enter__(self) -> Iterator[np.ndarray]:
        return (frame for _, frame, _ in self.reader.__enter__())

    def __exit__(self, *exc) -> None:
        self.reader.__exit__(*exc)


def show(frame) -> bool:
    """Show a frame; return False when the user pressed q. Errors if no GUI is available."""
    try:
        cv2.imshow(WINDOW, frame)
        return (cv2.waitKey(1) & 0xFF) != ord("q")
    except cv2.error:
        raise CliError("cannot open a window: this OpenCV build has no GUI (opencv-python-headless) or "
                       "there is no display; install opencv-python, or run with --headless --output OUT.mp4") from None


def run(args: argparse.Namespace) -> int:
    if args.headless and not args.output:
        raise CliError("--headless needs --output OUT.mp4 (there is nowhere else to show the result)")
    if (not args.headless and sys.platform.startswith("linux")
            and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))):
        raise CliError("no display available: run with --headless --output OUT.mp4")
    analyzer = load_analyzer(args.model, live=True)
    tracker = FaceTracker(analyzer.settings.smoothing_window, analyzer.settings.track_iou)
    capture = open_source(args.source)
    fps_in = capture.get(cv2.CAP_PROP_FPS) or 25.0
    writer = None
    frames, fps, started = 0, 0.0, time.perf_counter()
    try:
        with frames_of(args.source, capture) as frames_in:
            for frame in frames_in:
                tick = time.perf_counter()
                boxes = analyzer.detector.detect(frame)
                probs = analyzer.classify_boxes(frame, boxes)
                faces = [analyzer.make_face(track.box, smooth) for track, smooth in tracker.update(boxes, probs)]
                draw_faces(frame, faces, bars=not args.no_bars)
                elapsed = time.perf_counter() - tick
                fps = 1 / elapsed if fps == 0 else 0.9 * fps + 0.1 / max(elapsed, 1e-6)
                draw_fps(frame, fps)
                if args.output:
                    if writer is None:
                        writer = open_writer(args.output, fps_in, frame.shape[1], frame.shape[0])
                    writer.write(frame)
                frames += 1
                if not args.headless and not show(frame):
                    break
                if args.max_frames and frames >= args.max_frames:
                    break
    finally:
        capture.release()
        if writer is not None:
            writer.release()
        if not args.headless:
            cv2.destroyAllWindows()
    if frames == 0:
        raise CliError(f"no frames could be read from {args.source}")
    total = time.perf_counter() - started
    print(f"{frames} frames in {total:.1f} s ({frames / total:.1f} frames/s end to end)")
    return 0
