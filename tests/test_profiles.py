"""Params profiles overlaid onto a copy of the project's params.yaml (python -m emoscan.profiles)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from emoscan.profiles import ProfileError, apply_profile

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def params(tmp_path: Path) -> Path:
    copy = tmp_path / "params.yaml"
    shutil.copy(ROOT / "params.yaml", copy)
    return copy


def comments(path: Path) -> list[str]:
    return [line.split("#", 1)[1] for line in path.read_text().splitlines() if "#" in line]


def test_smoke_profile_sets_its_values_and_keeps_every_comment(params: Path) -> None:
    before = yaml.safe_load(params.read_text())
    apply_profile(ROOT / "profiles/smoke.yaml", params)
    after = yaml.safe_load(params.read_text())
    assert after["split"]["subset_fraction"] == 0.03 and after["train"]["epochs"] == 1
    assert after["export"]["class_offsets"] == {**before["export"]["class_offsets"], "fit": True, "halvings": 2}
    assert after["train"]["learning_rate"] == before["train"]["learning_rate"]  # untouched keys stay
    assert comments(params) == comments(ROOT / "params.yaml")


def test_unknown_key_is_an_error_and_leaves_params_unchanged(params: Path, tmp_path: Path) -> None:
    profile = tmp_path / "typo.yaml"
    profile.write_text("train:\n  epoch: 3\n")
    original = params.read_text()
    with pytest.raises(ProfileError, match="'train.epoch' is not in params.yaml"):
        apply_profile(profile, params)
    assert params.read_text() == original
    run = subprocess.run([sys.executable, "-m", "emoscan.profiles", str(profile), "--params", str(params)],
                         capture_output=True, text=True)
    assert run.returncode != 0 and "train.epoch" in run.stderr and "Traceback" not in run.stderr
    assert params.read_text() == original


def test_replace_tag_swaps_a_mapping_whole_where_a_merge_rejects_new_keys(params: Path, tmp_path: Path) -> None:
    merge = tmp_path / "merge.yaml"
    merge.write_text("accelerated:\n  members:\n    wide: {width: 2.0, seed: 1}\n")
    with pytest.raises(ProfileError, match="accelerated.members.wide"):
        apply_profile(merge, params)
    replace = tmp_path / "replace.yaml"
    replace.write_text("accelerated:\n  members: !replace\n    wide: {width: 2.0, seed: 1}\n")
    apply_profile(replace, params)
    assert yaml.safe_load(params.read_text())["accelerated"]["members"] == {"wide": {"width": 2.0, "seed": 1}}
    assert "!replace" not in params.read_text()


def test_replace_tag_on_a_scalar_is_an_error(params: Path, tmp_path: Path) -> None:
    profile = tmp_path / "scalar.yaml"
    profile.write_text("train:\n  epochs: !replace 3\n")
    with pytest.raises(ProfileError, match="mapping or a list"):
        apply_profile(profile, params)


@pytest.mark.parametrize("profile", sorted(p.name for p in (ROOT / "profiles").glob("*.yaml")))
def test_every_profile_applies_and_its_runs_pass_the_train_checks(profile: str, params: Path) -> None:
    from emoscan.training.fit.accelerated import run_config

    merged = apply_profile(ROOT / "profiles" / profile, params)
    for group in ("members", "students"):
        for name in merged["accelerated"][group]:
            assert run_config(merged, group, name)["seed"] == merged["accelerated"][group][name].get(
                "seed", merged["train"]["seed"])


def test_soup_ingredient_runs_start_where_the_shipped_soup_started(params: Path) -> None:
    """A soup averages networks from one starting point: each run must restart the shipped soup's
    starting point (train.init_from, or the init_from in the provenance of a soup saved as one
    network) at its width, or its weights could not join the soup."""
    merged = apply_profile(ROOT / "profiles/gpu_soup_ingredients.yaml", params)
    shipped = merged["train"]["init_from"]
    origin = json.loads((ROOT / shipped).with_suffix(".json").read_text())
    start = origin["init_from"] if origin.get("role") == "soup" else shipped
    assert len(merged["accelerated"]["members"]) == 4
    for run in merged["accelerated"]["members"].values():
        assert run["init_from"] == start and run["width"] == merged["train"]["width"]
        assert (ROOT / run["init_from"]).is_file()


@pytest.mark.parametrize("profile", sorted(p.name for p in (ROOT / "profiles").glob("*.yaml")))
def test_every_profile_as_dvc_set_params_gives_what_the_rewrite_gives(profile: str, params: Path, tmp_path: Path) -> None:
    """`--exp-run` hands a profile to `dvc exp run -S ...`: DVC's own Hydra overrides, applied to
    params.yaml by DVC's code, must give the same params as the rewrite (replaced values too)."""
    from dvc.utils.hydra import apply_overrides

    from emoscan.profiles import set_params

    by_dvc = tmp_path / "by_dvc.yaml"
    shutil.copy(params, by_dvc)
    flags = set_params(ROOT / "profiles" / profile, by_dvc)
    assert flags[::2] == ["-S"] * (len(flags) // 2) and len(flags) >= 2
    apply_overrides(by_dvc, flags[1::2])
    rewritten = apply_profile(ROOT / "profiles" / profile, params)
    assert yaml.safe_load(by_dvc.read_text()) == json.loads(json.dumps(rewritten))


def test_a_set_params_profile_with_an_unknown_key_is_an_error(params: Path, tmp_path: Path) -> None:
    from emoscan.profiles import set_params

    profile = tmp_path / "typo.yaml"
    profile.write_text("train:\n  epoch: 3\n")
    with pytest.raises(ProfileError, match="'train.epoch' is not in"):
        set_params(profile, params)
