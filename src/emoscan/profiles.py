"""Params profiles: a partial params file (e.g. profiles/smoke.yaml) laid over params.yaml.

    python -m emoscan.profiles --exp-run profiles/smoke.yaml [-- DVC ARGS]   # a DVC experiment
    python -m emoscan.profiles PROFILE.yaml [--params params.yaml]           # rewrite params.yaml

`--exp-run` hands the profile to DVC as `dvc exp run -S key=value ...` (DVC's own Hydra
overrides): the workspace's params.yaml gets the profile's values, the pipeline runs, and `dvc exp
show` lists the experiment beside the others. Profiles for the JAX trainer, which DVC does not
run, are applied by rewriting params.yaml (`git checkout params.yaml` undoes it).

A profile's mappings merge key by key into params.yaml's, and a key params.yaml lacks is an error,
so that a typo cannot pass silently. A value tagged `!replace` takes the place of params.yaml's
value whole instead, e.g. a new set of named runs under `accelerated.students`. params.yaml is
rewritten round-trip (ruamel.yaml): its comments and layout survive outside the keys changed.
"""

from __future__ import annotations

import argparse
import io
import shlex
import subprocess
from pathlib import Path
from collections.abc import Iterator
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

REPLACE_TAG = "!replace"


class ProfileError(ValueError):
    """The profile names a key params.yaml does not have, or is not a mapping."""


def _round_trip() -> YAML:
    yaml = YAML()  # round-trip: keeps comments, key order and flow style
    yaml.preserve_quotes = True
    yaml.width = 4096  # do not re-wrap long lines
    return yaml


def _replaces(value: Any) -> bool:
    tag = getattr(value, "tag", None)
    return getattr(tag, "value", tag) == REPLACE_TAG


def _untagged(value: Any) -> Any:
    """`value` without a `!replace` tag: a shallow copy of a tagged mapping or list (its entries
    keep their own layout), anything else as it is."""
    if not _replaces(value):
        return value
    if isinstance(value, dict):
        return CommentedMap(value.items())
    if isinstance(value, list):
        return CommentedSeq(value)
    raise ProfileError(f"{REPLACE_TAG} applies to a mapping or a list, got {value!r}")


def _leaves(base: dict[str, Any], overlay: dict[str, Any], where: str = "") -> Iterator[tuple[dict, str, str, Any]]:
    """Each value `overlay` sets, as (the mapping of `base` that holds it, its key, its dotted name,
    the value): mappings are walked key by key unless tagged `!replace`. A key `base` lacks raises
    ProfileError, so typos do not pass."""
    for key, value in overlay.items():
        name = f"{where}{key}"
        if key not in base:
            raise ProfileError(f"profile key {name!r} is not in params.yaml")
        if isinstance(value, dict) and isinstance(base[key], dict) and not _replaces(value):
            yield from _leaves(base[key], value, f"{name}.")
        else:
            yield base, key, name, value


def deep_merge(base: dict[str, Any], overlay: dict[str, Any], where: str = "") -> dict[str, Any]:
    """Merge `overlay` into `base` in place and return it. Mappings merge key by key unless tagged
    `!replace`; other values replace. Unknown keys raise ProfileError so typos do not pass."""
    for holder, key, _, value in list(_leaves(base, overlay, where)):
        holder[key] = _untagged(value)
    return base


def _load_profile(profile: Path) -> dict[str, Any]:
    """The profile's mapping (round-trip loaded, `!replace` tags kept); ProfileError if it is not one."""
    overlay = _round_trip().load(profile.read_text()) or {}
    if not isinstance(overlay, dict):
        raise ProfileError(f"{profile}: expected a mapping of params.yaml sections, got {type(overlay).__name__}")
    return overlay


def apply_profile(profile: Path, params: Path = Path("params.yaml")) -> dict[str, Any]:
    """Overlay `profile` onto `params` in place (comments kept) and return the merged params."""
    yaml = _round_trip()
    merged = deep_merge(yaml.load(params.read_text()), _load_profile(profile))
    out = io.StringIO()
    yaml.dump(merged, out)
    params.write_text(out.getvalue())
    return merged


def _hydra_value(value: Any) -> str:
    """`value` in Hydra's override grammar (what `dvc exp run -S key=VALUE` parses)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return value if value and all(c.isalnum() or c in "_./-" for c in value) else "'" + value.replace("'", "\\'") + "'"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{_hydra_value(v)}" for k, v in value.items()) + "}"
    return "[" + ",".join(_hydra_value(v) for v in value) + "]"


def set_params(profile: Path, params: Path = Path("params.yaml")) -> list[str]:
    """The profile as `dvc exp run` arguments (`-S key=value` each), checked against `params`:
    a mapping merges key by key, a value tagged `!replace` is deleted and set whole."""
    args: list[str] = []
    for _, _, name, value in _leaves(_round_trip().load(params.read_text()), _load_profile(profile)):
        if _replaces(value):
            args.extend(["-S", f"~{name}", "-S", f"+{name}={_hydra_value(_untagged(value))}"])
        else:
            args.extend(["-S", f"{name}={_hydra_value(value)}"])
    return args


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--exp-run", action="store_true", help="run the pipeline as `dvc exp run -S ...`")
    args, dvc_args = parser.parse_known_args()
    try:
        if args.exp_run:
            command = ["dvc", "exp", "run", *set_params(args.profile, args.params), *dvc_args]
            print(shlex.join(command), flush=True)
            raise SystemExit(subprocess.call(command))
        apply_profile(args.profile, args.params)
    except ProfileError as err:
        raise SystemExit(f"emoscan.profiles: {err}") from None
    print(f"applied {args.profile} to {args.params}")


if __name__ == "__main__":
    main()
