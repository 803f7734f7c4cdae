"""Params profiles: overlay a partial params file (e.g. profiles/smoke.yaml) onto params.yaml.

Usage: python -m emoscan.profiles PROFILE.yaml [--params params.yaml]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml


def deep_merge(base: dict[str, Any], overlay: dict[str, Any], where: str = "") -> dict[str, Any]:
    """Return `base` with `overlay` merged in; unknown keys are an error so typos do not pass."""
    merged = dict(base)
    for key, value in overlay.items():
        name = f"{where}{key}"
        if key not in base:
            raise KeyError(f"profile key {name!r} is not in params.yaml")
        if isinstance(value, dict) and isinstance(base[key], dict):
            merged[key] = deep_merge(base[key], value, f"{name}.")
        else:
            merged[key] = value
    return merged


def apply_profile(profile: Path, params: Path = Path("params.yaml")) -> dict[str, Any]:
    """Overlay `profile` onto `params` in place and return the result."""
    merged = deep_merge(yaml.safe_load(params.read_text()), yaml.safe_load(profile.read_text()) or {})
    params.write_text(yaml.safe_dump(merged, sort_keys=False))
    return merged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = parser.parse_args()
    apply_profile(args.profile, args.params)
    print(f"applied {args.profile} to {args.params}")


if __name__ == "__main__":
    main()
