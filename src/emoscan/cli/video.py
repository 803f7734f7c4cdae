"""`emoscan video FILE`: the same analysis as POST /detect-video, from the terminal."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from emoscan.cli.common import (CliError, add_model_argument, load_analyzer, open_writer, require_extra,
                                 require_file)
from emoscan.inference.analyzer import FrameResult, VideoAnalysis, VideoDecodeError, format_timestamp
from emoscan.inference.annotate import draw_faces


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("video", help="analyse the faces of a video file",
                       description="Detect and classify faces in FRAME_RATE frames per second of a video.")
    p.add_argument("file", metavar="FILE", help="video file (MP4, AVI, MOV, MKV, WebM)")
    p.add_argument("--frame-rate", type=float, default=1.0, help="analysed frames per second (default 1)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print results and summary as JSON")
    out.add_argument("--csv", metavar="OUT", type=Path, help="write one row per face to a CSV file")
    p.add_argument("--annotate", metavar="OUT", type=Path, help="write an annotated copy (.mp4 or .avi)")
    p.add_argument("--plot", metavar="OUT", type=Path, help="save a PNG of emotions over time")
    add_model_argument(p)
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(run=run)


def write_csv(analysis: VideoAnalysis, path: Path) -> None:
    """One row per face: frame, timestamp, box, emotion, confidence, a probability per class of the model."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["frame", "timestamp", "x", "y", "width", "height", "emotion", "confidence",
                         *analysis.classes])
        for r in analysis.results:
            for f in r.faces:
                writer.writerow([r.frame, format_timestamp(r.timestamp), *f.box.to_list(), f.emotion,
                                 f"{f.confidence:.4f}", *(f"{f.probabilities[c]:.4f}" for c in analysis.classes)])


def plot_timeline(analysis: VideoAnalysis, path: Path) -> None:
    """Mean probability of each emotion over the faces of each analysed frame, against time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    times = [r.timestamp for r in analysis.results if r.faces]
    fig, ax = plt.subplots(figsize=(10, 4))
    for c in analysis.classes:
        ax.plot(times, [np.mean([f.probabilities[c] for f in r.faces]) for r in analysis.results if r.faces],
                label=c)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("probability")
    ax.set_ylim(0, 1)
    ax.legend(ncol=len(analysis.classes), fontsize=8, loc="upper center")
    ax.set_title("Emotion over time")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(args: argparse.Namespace) -> int:
    if args.frame_rate <= 0:
        raise CliError(f"--frame-rate must be > 0, got {args.frame_rate}")
    path = require_file(args.file)
    if args.plot:
        require_extra("video --plot", "plot", "matplotlib")
    analyzer = load_analyzer(args.model)
    bar = tqdm(unit="frame", disable=args.no_progress or args.json, file=sys.stderr)
    writer = None
    last_faces: list = []

    def progress(done: int, total: int) -> None:
        if total and bar.total != total:
            bar.total = total
        bar.update(1)

    def on_frame(frame: np.ndarray, result: FrameResult | None, fps: float) -> None:
        nonlocal writer, last_faces
        if writer is None:
            writer = open_writer(args.annotate, fps, frame.shape[1], frame.shape[0])
        if result is not None:
            last_faces = result.faces
        writer.write(draw_faces(frame, last_faces))

    try:
        analysis = analyzer.analyze_video(str(path), args.frame_rate, progress=progress,
                                          on_frame=on_frame if args.annotate else None)
    except VideoDecodeError as exc:
        raise CliError(str(exc)) from None
    finally:
        bar.close()
        if writer is not None:
            writer.release()
    body = analysis.to_dict()
    body["summary"]["frame_rate"] = args.frame_rate
    if args.csv:
        write_csv(analysis, args.csv)
    if args.plot:
        plot_timeline(analysis, args.plot)
    if args.json:
        print(json.dumps(body, indent=2))
    else:
        s = body["summary"]
        print(f"{path}: {s['total_frames']} frames analysed of {s['video_frames']} "
              f"({s['duration']:.1f} s at {s['fps']:g} fps), {s['faces_detected']} faces, "
              f"dominant emotion: {s['dominant_emotion']}")
        for emotion, share in s["emotion_distribution"].items():
            print(f"  {emotion:<9} {share:6.1%}")
    return 0
