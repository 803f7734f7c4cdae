"""Inference and service settings: the `inference` and `service` sections of params.yaml."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from emoscan.inference.classifier import TTA_MODES
from emoscan.inference.detectors import BACKENDS

#: Repository root when running from a checkout or a bento (`src/emoscan/inference` -> root).
PROJECT_ROOT = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class InferenceSettings:
    """Face detection and classification knobs (defaults mirror params.yaml)."""

    detector: str = "yunet_s"
    score_threshold: float = 0.6
    min_face_size: int = 24
    detection_max_side: int = 1280
    live_detection_max_side: int = 480
    face_crop_scale: float = 0.95
    face_align_degrees: float = 8.0
    detector_threads: int = 1
    classifier_threads: int = 2
    max_faces: int = 32
    smoothing_window: int = 8
    track_iou: float = 0.3
    tta: str = "bundle"


#: Allowed values of the text settings (all others are non-negative numbers).
TEXT_CHOICES = {"tta": ("bundle", *TTA_MODES), "detector": tuple(BACKENDS), "output_format": ("parquet", "csv")}
#: Number settings that must be above zero.
POSITIVE = {"face_crop_scale", "upload_idle_seconds", "frame_rate", "files_per_task", "files_per_part"}


@dataclass(frozen=True)
class ServiceSettings:
    """HTTP limits of the BentoML service (defaults mirror params.yaml)."""

    max_image_mb: float = 10
    max_video_mb: float = 100
    max_image_pixels: int = 40_000_000
    max_video_frames_analysed: int = 3600
    rate_limit_detect_per_min: int = 100
    rate_limit_video_per_min: int = 10
    rate_limit_storage: str = "memory://"
    default_frame_rate: float = 1.0
    max_frame_rate: float = 30.0
    upload_idle_seconds: float = 30.0


@dataclass(frozen=True)
class BatchSettings:
    """`emoscan batch` (defaults mirror params.yaml)."""

    frame_rate: float = 1.0
    files_per_task: int = 16
    workers: int = 0
    files_per_part: int = 500
    max_video_frames: int = 0
    output_format: str = "parquet"


def build_settings(cls, values: dict[str, Any] | None, where: str):
    """`cls` (InferenceSettings, ServiceSettings or BatchSettings) from a dict, each value checked; ValueError
    naming `where` and the key for an unknown key or a bad value."""
    values = values or {}
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}")
    checked = {}
    for name, value in values.items():
        default = getattr(cls, name)
        if name == "rate_limit_storage":
            if not isinstance(value, str) or "://" not in value:
                raise ValueError(f"{where}.{name}: expected a storage URI (memory://, redis://host:6379), got {value!r}")
            checked[name] = value
            continue
        if isinstance(default, str):
            if value not in TEXT_CHOICES[name]:
                raise ValueError(f"{where}.{name}: expected one of {list(TEXT_CHOICES[name])}, got {value!r}")
            checked[name] = value
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"{where}.{name}: expected a non-negative number, got {value!r}")
        if name in POSITIVE and value == 0:
            raise ValueError(f"{where}.{name}: expected a number above 0, got {value!r}")
        checked[name] = type(default)(value) if isinstance(default, float) else value
    return cls(**checked)


def params_path() -> Path:
    """params.yaml used for settings: $EMOSCAN_PARAMS, else the project's own."""
    return Path(os.environ.get("EMOSCAN_PARAMS", PROJECT_ROOT / "params.yaml"))


def load_settings(path: Path | None = None) -> tuple[InferenceSettings, ServiceSettings]:
    """Read both sections from params.yaml; defaults apply when the file is absent."""
    path = path or params_path()
    params = yaml.safe_load(path.read_text()) if path.is_file() else {}
    return (build_settings(InferenceSettings, params.get("inference"), "inference"),
            build_settings(ServiceSettings, params.get("service"), "service"))


def load_batch_settings(path: Path | None = None) -> BatchSettings:
    """The `batch` section of params.yaml; defaults apply when the file or section is absent."""
    path = path or params_path()
    params = yaml.safe_load(path.read_text()) if path.is_file() else {}
    return build_settings(BatchSettings, params.get("batch"), "batch")


__all__ = ["BatchSettings", "InferenceSettings", "ServiceSettings", "build_settings", "load_batch_settings",
           "load_settings", "asdict", "PROJECT_ROOT"]
