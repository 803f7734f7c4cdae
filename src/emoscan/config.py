"""Loading and checking `params.yaml`: every knob of the pipeline lives there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from emoscan import CLASSES


class ParamsError(ValueError):
    """A params.yaml value is missing or invalid; the message names the key."""


def load_params(path: str | Path = "params.yaml") -> dict[str, Any]:
    """Read params.yaml and check the keys shared by all stages."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"params file not found: {path}")
    params = yaml.safe_load(path.read_text()) or {}
    classes = params.get("classes")
    if list(classes or []) != list(CLASSES):
        raise ParamsError(f"classes: expected {list(CLASSES)}, got {classes!r}")
    if params.get("image_size") != 48:
        raise ParamsError(f"image_size: FER-2013 images are 48x48, got {params.get('image_size')!r}")
    return params


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
