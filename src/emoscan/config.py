"""Loading and checking `params.yaml`: every knob of the pipeline lives there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml



class ParamsError(ValueError):
    """A params.yaml value is missing or invalid; the message names the key."""


def merged(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """`base` with `overrides` laid over it, section by section (nested dicts merged, others replaced)."""
    out = dict(base)
    for key, value in overrides.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def read_params(path: str | Path) -> dict[str, Any]:
    """A params file as a dict; a file with `base: OTHER.yaml` (relative to it) holds only the keys
    that differ from OTHER, e.g. the FER+ pipeline's over the FER-2013 one's."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"params file not found: {path}")
    params = yaml.safe_load(path.read_text()) or {}
    base = params.pop("base", None)
    return merged(read_params(path.parent / base), params) if base else params


def load_params(path: str | Path = "params.yaml") -> dict[str, Any]:
    """Read params.yaml (or another pipeline's params file) and check the keys shared by all stages."""
    params = read_params(path)
    classes = params.get("classes")
    if (not isinstance(classes, list) or len(classes) < 2 or len(set(classes)) != len(classes)
            or not all(isinstance(c, str) and c for c in classes)):
        raise ParamsError(f"classes: expected a list of at least two distinct class names, got {classes!r}")
    if params.get("image_size") != 48:
        raise ParamsError(f"image_size: FER-2013 images are 48x48, got {params.get('image_size')!r}")
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
