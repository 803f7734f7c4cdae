"""Real-time speed on this machine: frames/s for 640x480 video, detection + classification
included (detection at `inference.live_detection_max_side`, as `emoscan live` does), the per-face
classifier latency (ONNX Runtime, batch 1 and batched), and video file analysis (detection at
`inference.detection_max_side`, as the service and `emoscan video` do).

    python benchmarks/bench_realtime.py [--frames 300] [--model PATH] [--detector yunet_s]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from _machine import cpu_description
from _media import face_frame, write_video
from emoscan.inference.analyzer import FaceAnalyzer
from emoscan.inference.bundle import resolve_model
from emoscan.inference.classifier import EmotionClassifier
from emoscan.settings import load_settings, with_overrides


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--model", help="model bundle (default: MODEL_PATH or the shipped model)")
    parser.add_argument("--detector", help="face detector (default: inference.detector)")
    parser.add_argument("--video-detectors", type=int, help="frames of a video detected at once (default: inference.video_detectors)")
    args = parser.parse_args()
    settings = load_settings().inference
    if args.detector:
        settings = with_overrides(settings, {"detector": args.detector}, "--detector")
    if args.video_detectors:
        settings = with_overrides(settings, {"video_detectors": args.video_detectors}, "--video-detectors")
    path = Path(args.model) if args.model else resolve_model().path
    classifier = EmotionClassifier(path, settings.classifier_threads)
    analyzer = FaceAnalyzer(classifier, with_overrides(settings, {"detection_max_side": settings.live_detection_max_side}, "live"))
    files = FaceAnalyzer(classifier, settings)
    frame = face_frame()
    assert len(analyzer.analyze_image(frame)) == 1, "benchmark frame must hold one detected face"

    for _ in range(20):
        analyzer.analyze_image(frame)
    detect = timed(lambda: analyzer.detector.detect(frame), args.frames)
    full = timed(lambda: analyzer.analyze_image(frame), args.frames)
    one = np.random.default_rng(0).random((1, 48, 48, 1), dtype=np.float32)
    many = np.random.default_rng(0).random((64, 48, 48, 1), dtype=np.float32)
    single = timed(lambda: analyzer.classifier.predict(one), 500)
    batched = timed(lambda: analyzer.classifier.predict(many), 50)

    with tempfile.TemporaryDirectory() as tmp:
        video = write_video(Path(tmp) / "bench.mp4", frames=150)
        start = time.perf_counter()
        analysis = files.analyze_video(str(video), frame_rate=30.0)
        video_fps = len(analysis.results) / (time.perf_counter() - start)

    ms = lambda xs: 1000 * statistics.median(xs)  # noqa: E731
    print(f"model: {path}; detector: {analyzer.detector.name}; CPU: {cpu_description()}")
    print(f"640x480 frame, 1 face, detection at {settings.live_detection_max_side} px: detection {ms(detect):.2f} ms, detection + classification {ms(full):.2f} ms "
          f"(p95 {1000 * np.percentile(full, 95):.2f} ms) -> {1 / statistics.median(full):.0f} frames/s")
    print(f"classifier (ONNX Runtime, {settings.classifier_threads} thread): batch 1 {ms(single):.3f} ms/face, "
          f"batch 64 {64 / statistics.median(batched):.0f} faces/s")
    print(f"video file analysis (decode + detect at {settings.detection_max_side} px + classify every frame, "
          f"{settings.video_detectors} frames detected at once): {video_fps:.0f} frames/s")


if __name__ == "__main__":
    main()
