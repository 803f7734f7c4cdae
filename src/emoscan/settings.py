"""params.yaml, read and checked in one place: the pipeline's stages, the service, the CLI, the
Python API and the batch job all take their knobs from here.

- `load_params(path, model=...)`: what one DVC stage reads, as a flat dict (`train`, `export`, ...):
  one model of `models` over its entry of `datasets`; each stage checks its section with `require`.
- `load_settings(path)`: the run-time sections (`inference`, `service`, `batch`) as typed,
  validated, frozen pydantic models. Their defaults are written here, so an installed package needs
  no params file; params.yaml repeats them with a comment per knob (a test keeps the two equal).

Which file overrides the run-time defaults: `$EMOSCAN_PARAMS`, else the checkout's params.yaml when
emoscan runs from a checkout or a bento, else none.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

#: The repository root in a checkout or a bento (`src/emoscan/settings.py` -> root).
PROJECT_ROOT = Path(__file__).resolve().parents[2]
#: True when this package runs from a checkout or a bento (src layout), False when installed.
CHECKOUT = Path(__file__).resolve().parents[1].name == "src"


class ParamsError(ValueError):
    """A params.yaml value is missing or invalid; the message names the key."""


def read_params(path: str | Path) -> dict[str, Any]:
    """A params file as a dict (YAML merge keys `<<: *recipe` resolved)."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"params file not found: {path}")
    return yaml.safe_load(path.read_text()) or {}


#: The model the benchmarks and tools read when none is named.
DEFAULT_MODEL = "fer2013"
#: The keys of a `models.NAME` entry.
MODEL_KEYS = ("dataset", "version", "reads", "train", "export", "evaluate", "register")


def stage_paths(model: str | None, dataset: str) -> dict[str, str]:
    """Where each stage of `model` (over `dataset`) writes: the layout dvc.yaml names too."""
    paths = {"raw": f"data/{dataset}/raw", "processed": f"data/{dataset}/processed",
             "validation": f"reports/{dataset}/validation"}
    if model:
        paths.update(train=f"models/{model}/train", logs=f"logs/{model}", export=f"models/{model}/export",
                     accelerated=f"models/{model}/accelerated", evaluation=f"reports/{model}/evaluation",
                     registry=f"reports/{model}/registry", shipped=f"src/emoscan/models/emoscan-{model}")
    return paths


def _entry(table: Any, name: str, where: str, path: Path) -> dict[str, Any]:
    if not isinstance(table, dict) or not isinstance(table.get(name), dict):
        known = ", ".join(table) if isinstance(table, dict) else "none"
        raise ParamsError(f"{where}.{name}: not in {path} (known: {known})")
    return table[name]


def _relabel_source(raw: dict[str, Any], train: dict[str, Any], model: str, dataset: str,
                    path: Path) -> dict[str, Any] | None:
    """Where `train.relabel_from`'s dataset keeps its processed split and its classes (None when off)."""
    other = train.get("relabel_from")
    if not other:
        return None
    if other == dataset:
        raise ParamsError(f"models.{model}.train.relabel_from: {other!r} is the model's own dataset ({path})")
    entry = _entry(raw.get("datasets"), str(other), f"models.{model}.train.relabel_from", path)
    split_dir = stage_paths(None, str(other))["processed"]
    reads = (raw.get("models") or {}).get(model, {}).get("reads")
    if reads != f"{split_dir}/train.npz":
        # dvc.yaml's train stage depends on `reads`: so the lock records the votes the model learnt
        raise ParamsError(f"models.{model}.reads: {reads!r}; a model relabelled from {other} reads "
                          f"{split_dir}/train.npz ({path})")
    return {"split_dir": split_dir, "classes": entry.get("classes")}


def load_params(path: str | Path = "params.yaml", model: str | None = None,
                dataset: str | None = None) -> dict[str, Any]:
    """The params one stage reads, as one flat dict: `models.MODEL` (default fer2013) over its
    dataset's `datasets` entry, or the dataset alone for the data stages, with each stage's output
    folder (stage_paths) and the run-time sections. An unknown key is an error naming it and the file."""
    path = Path(path)
    raw = read_params(path)
    entry = None if dataset and not model else _entry(raw.get("models"), model or DEFAULT_MODEL, "models", path)
    model = None if entry is None else (model or DEFAULT_MODEL)
    if entry is not None:
        for key in sorted(set(entry) - set(MODEL_KEYS)):
            raise ParamsError(f"models.{model}.{key}: unknown key ({path})")
        for key in sorted(set(entry.get("train") or {}) - set(raw.get("recipe") or {})):
            raise ParamsError(f"models.{model}.train.{key}: unknown key, not in the recipe ({path})")
        dataset = entry.get("dataset")
    data = _entry(raw.get("datasets"), str(dataset), "datasets", path)
    where = stage_paths(model, str(dataset))
    params: dict[str, Any] = {
        "image_size": raw.get("image_size"), "classes": data.get("classes"), "data": {"labels": dataset},
        "fetch": {**(data.get("fetch") or {}), "output_dir": where["raw"]},
        "split": {**(data.get("split") or {}), "output_dir": where["processed"]},
        "validate": {**(data.get("validate") or {}), "report_dir": where["validation"]},
        **{name: raw[name] for name in RUNTIME_SECTIONS if name in raw},
    }
    if model:
        mlflow = raw.get("mlflow") or {}
        params.update(
            model=model, version=str(entry.get("version", "")),
            train={**entry["train"], "output_dir": where["train"], "log_dir": where["logs"],
                   "relabel": _relabel_source(raw, entry["train"], model, str(dataset), path)},
            export={**entry["export"], "output_dir": where["export"]},
            evaluate={**entry["evaluate"], "output_dir": where["evaluation"]},
            register={**entry["register"], "model_name": f"emoscan-{model}",
                      "alias": mlflow.get("alias", "champion"), "output_dir": where["registry"]},
            mlflow={"tracking_uri": mlflow.get("tracking_uri"), "experiment": mlflow.get("experiment", "emoscan")},
            accelerated={**(raw.get("accelerated") or {}), "data_dir": where["processed"],
                         "output_dir": where["accelerated"]},
            ship={"output_dir": where["shipped"]},
        )
    classes = params["classes"]
    if (not isinstance(classes, list) or len(classes) < 2 or len(set(classes)) != len(classes)
            or not all(isinstance(c, str) and c for c in classes)):
        raise ParamsError(f"datasets.{dataset}.classes: expected a list of at least two distinct class names, "
                          f"got {classes!r} ({path})")
    if params["image_size"] != 48:
        raise ParamsError(f"image_size: FER-2013 images are 48x48, got {params['image_size']!r} ({path})")
    return params


def labels_of(params: dict[str, Any]) -> str:
    """The label set a pipeline reads: `data.labels` (fer2013 | ferplus), FER-2013 when unset."""
    labels = (params.get("data") or {}).get("labels", "fer2013")
    if labels not in ("fer2013", "ferplus"):
        raise ParamsError(f"data.labels: expected fer2013 or ferplus, got {labels!r}")
    return labels


def section(params: dict[str, Any], name: str) -> dict[str, Any]:
    """Return one section of the params, with a clear error if it is absent."""
    value = params.get(name)
    if not isinstance(value, dict):
        raise ParamsError(f"{name}: section missing from params.yaml")
    return value


def require(cfg: dict[str, Any], key: str, kind: type | tuple[type, ...], *, where: str,
            choices: tuple | None = None, low: float | None = None, high: float | None = None) -> Any:
    """Fetch `cfg[key]` and check its type, allowed values and range."""
    name = f"{where}.{key}"
    if key not in cfg:
        raise ParamsError(f"{name}: missing")
    value = cfg[key]
    if isinstance(value, bool) and kind in (int, float, (int, float)):
        raise ParamsError(f"{name}: expected a number, got {value!r}")
    if not isinstance(value, kind):
        raise ParamsError(f"{name}: expected {getattr(kind, '__name__', kind)}, got {value!r}")
    if choices is not None and value not in choices:
        raise ParamsError(f"{name}: expected one of {list(choices)}, got {value!r}")
    if low is not None and value < low or high is not None and value > high:
        raise ParamsError(f"{name}: expected a value in [{low}, {high}], got {value!r}")
    return value


# --- run-time settings: typed, validated, frozen ---------------------------------------------------

#: The face detectors of emoscan.inference.detectors, by name (its BACKENDS has one entry per name).
DetectorName = Literal["yunet_s", "yunet_n", "yuface"]


class _Section(BaseModel):
    # strict: "5" or True is not a number; extra: a misspelt key is an error, not ignored
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class InferenceSettings(_Section):
    """Face detection and classification (the `inference` section; params.yaml comments each knob)."""

    detector: DetectorName = "yunet_s"
    score_threshold: float = Field(0.6, ge=0, le=1)
    min_face_size: int = Field(24, ge=0)
    detection_max_side: int = Field(1280, ge=0)
    live_detection_max_side: int = Field(480, ge=0)
    face_crop_scale: float = Field(0.95, gt=0)
    face_align_degrees: float = Field(8.0, ge=0)
    detector_threads: int = Field(2, ge=0)
    video_detectors: int = Field(2, ge=1)
    classifier_threads: int = Field(2, ge=0)
    max_faces: int = Field(32, ge=0)
    smoothing_window: int = Field(8, ge=0)
    track_iou: float = Field(0.3, ge=0, le=1)


class ServiceSettings(_Section):
    """The HTTP service's concurrency and limits (the `service` section)."""

    threads: int = Field(2, ge=1)
    max_image_mb: float = Field(10.0, ge=0)
    max_video_mb: float = Field(100.0, ge=0)
    max_image_pixels: int = Field(40_000_000, ge=0)
    max_video_frames_analysed: int = Field(3600, ge=0)
    rate_limit_detect_per_min: int = Field(100, ge=0)
    rate_limit_video_per_min: int = Field(10, ge=0)
    rate_limit_storage: str = Field("memory://", pattern=r"^[a-z+]+://")
    default_frame_rate: float = Field(1.0, ge=0)
    max_frame_rate: float = Field(30.0, ge=0)
    upload_idle_seconds: float = Field(30.0, gt=0)


class BatchSettings(_Section):
    """`emoscan batch` (the `batch` section)."""

    frame_rate: float = Field(1.0, gt=0)
    files_per_task: int = Field(64, gt=0)
    workers: int = Field(0, ge=0)
    files_per_part: int = Field(500, gt=0)
    max_video_frames: int = Field(0, ge=0)
    output_format: Literal["parquet", "csv"] = "parquet"


class Settings(_Section):
    """The run-time sections: the defaults above, with a params file's values laid over them."""

    inference: InferenceSettings = InferenceSettings()
    service: ServiceSettings = ServiceSettings()
    batch: BatchSettings = BatchSettings()


#: the sections of a params file that the run-time settings read
RUNTIME_SECTIONS = ("inference", "service", "batch")


def params_path() -> Path | None:
    """The params file laid over the run-time defaults: $EMOSCAN_PARAMS, else the checkout's own
    params.yaml when emoscan runs from a checkout (or a bento), else None (an installed package)."""
    if os.environ.get("EMOSCAN_PARAMS"):
        return Path(os.environ["EMOSCAN_PARAMS"])
    local = PROJECT_ROOT / "params.yaml"
    return local if CHECKOUT and local.is_file() else None


def _first_error(exc: ValidationError, where: str) -> str:
    """pydantic's first error as one line: the key, what was expected, what was given."""
    error = exc.errors()[0]
    key = ".".join(part for part in [where, *(str(p) for p in error["loc"])] if part)
    kind, ctx = error["type"], error.get("ctx") or {}
    expected = {
        "extra_forbidden": "unknown key", "missing": "missing",
        "greater_than": f"expected a number above {ctx.get('gt')}",
        "greater_than_equal": f"expected a number of at least {ctx.get('ge')}",
        "less_than_equal": f"expected a number of at most {ctx.get('le')}",
        "literal_error": f"expected one of {ctx.get('expected')}",
        "int_type": "expected a whole number", "float_type": "expected a number",
        "string_pattern_mismatch": "expected a storage URI (memory://, redis://host:6379)",
    }.get(kind, error["msg"].lower())
    return f"{key}: {expected}" if kind in ("extra_forbidden", "missing") else f"{key}: {expected}, got {error.get('input')!r}"


def validated(model: type[_Section], values: dict[str, Any], where: str) -> Any:
    """`model` built from `values`; a ParamsError naming `where` and the key for a bad value."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise ParamsError(_first_error(exc, where)) from None


def load_settings(path: str | Path | None = None) -> Settings:
    """The run-time settings: the defaults in code, overridden by the `inference`, `service` and
    `batch` sections of `path` (else of params_path()), every value checked."""
    path = path or params_path()
    params = read_params(path) if path else {}
    try:
        return validated(Settings, {name: params[name] for name in RUNTIME_SECTIONS if params.get(name) is not None}, "")
    except ParamsError as exc:
        raise ParamsError(f"{exc} ({path})") from None


def with_overrides(settings: _Section, overrides: dict[str, Any], where: str) -> Any:
    """A copy of `settings` with `overrides` applied by name, every value checked again."""
    return validated(type(settings), {**settings.model_dump(), **overrides}, where)
