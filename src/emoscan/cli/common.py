"""Pieces shared by the sub-commands: loading the analyzer, errors, video writers."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import cv2

from emoscan.api import EmotionRecognizer
from emoscan.inference.analyzer import FaceAnalyzer
from emoscan.inference.bundle import SHIPPED_MODELS, STORE_PREFIX
from emoscan.settings import load_settings


class CliError(Exception):
    """A user-facing error: printed as one line, exit code 2."""


def require_extra(command: str, extra: str, *modules: str) -> None:
    """A CliError naming the extra to install when any of `modules` is not importable."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise CliError(f"`emoscan {command}` needs the {extra} extra ({', '.join(missing)} is not installed): "
                       f"pip install 'emoscan[{extra}]'")


def add_model_argument(parser: argparse.ArgumentParser) -> None:
    """The `--model` option every sub-command takes: a shipped model's name, a bundle or an .onnx file."""
    parser.add_argument("--model", metavar="MODEL", help=f"{' | '.join(SHIPPED_MODELS)} (shipped models), a model"
                        " bundle or .onnx, or champion:NAME from the BentoML store (default: MODEL_PATH, else fer2013)")


def load_recognizer(model: str | None, **settings) -> EmotionRecognizer:
    """The Python API's recognizer for `--model` (or MODEL_PATH, else the shipped default), with
    `settings` overriding the inference knobs."""
    if model and model not in SHIPPED_MODELS and not model.startswith(STORE_PREFIX) and not Path(model).exists():
        raise CliError(f"--model {model}: no such file or folder (a model bundle, an .onnx file, "
                       f"{STORE_PREFIX}NAME, or a shipped model: {', '.join(SHIPPED_MODELS)})")
    try:
        return EmotionRecognizer(model or None, **settings)
    except (FileNotFoundError, ImportError) as exc:
        raise CliError(str(exc)) from None


def load_analyzer(model: str | None, live: bool = False) -> FaceAnalyzer:
    """The detector + classifier behind `load_recognizer(model)`, for frame-level work; `live`
    detects on frames downscaled to `inference.live_detection_max_side`."""
    if not live:
        return load_recognizer(model).analyzer
    live_side = load_settings().inference.live_detection_max_side
    return load_recognizer(model, detection_max_side=live_side).analyzer


def require_file(path: str) -> Path:
    """The path as a Path, or a CliError when it is not an existing file."""
    p = Path(path)
    if not p.is_file():
        raise CliError(f"{path}: no such file")
    return p


def open_writer(path: Path, fps: float, width: int, height: int) -> cv2.VideoWriter:
    """An MP4 (mp4v) or AVI (MJPG) writer, by extension; errors when it cannot be opened."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fourcc = cv2.VideoWriter_fourcc(*("MJPG" if path.suffix.lower() == ".avi" else "mp4v"))
    writer = cv2.VideoWriter(str(path), fourcc, fps, (width, height))
    if not writer.isOpened():
        raise CliError(f"{path}: cannot write a video here (use .mp4 or .avi)")
    return writer


def fail(message: str) -> int:
    """Print an error line to stderr and return the error exit code."""
    print(f"emoscan: error: {message}", file=sys.stderr)
    return 2
