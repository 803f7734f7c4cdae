"""The committed lock tells the truth: in a clean clone of the last commit, `dvc status` finds no
changed code, params or command behind any stage, only outputs that an empty cache lacks; and every
shipped model is the output of the ship stage that made it."""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from conftest import REPO, run
from emoscan.inference.bundle import SHIPPED_MODELS


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    dest = tmp_path_factory.mktemp("lineage") / "clone"
    subprocess.run(["git", "clone", "-q", "--no-local", str(REPO), str(dest)], check=True)
    return dest


def test_a_clean_clone_has_no_stale_stage(clone):
    lock = yaml.safe_load((clone / "dvc.lock").read_text())["stages"]
    outputs = {out["path"] for stage in lock.values() for out in stage.get("outs", [])}
    status = json.loads(run(["dvc", "status", "--json"], cwd=clone).stdout or "{}")
    stale = []
    for stage, changes in status.items():
        for change in changes:
            if not isinstance(change, dict):  # "changed command", "always changed", ...
                stale.append(f"{stage}: {change}")
                continue
            for kind, paths in change.items():
                for path, what in (paths.items() if isinstance(paths, dict) else [(paths, "")]):
                    missing = what in ("deleted", "not in cache")  # an empty cache, or a stage not run here
                    if not (missing and (kind == "changed outs" or path in outputs)):
                        stale.append(f"{stage}: {kind} {path} {what}".strip())
    assert not stale, "dvc.lock no longer describes the committed code and params; `dvc repro` them:\n" + "\n".join(stale)


@pytest.mark.parametrize("name", list(SHIPPED_MODELS))
def test_every_shipped_model_is_an_output_of_its_ship_stage(clone, name):
    lock = yaml.safe_load((clone / "dvc.lock").read_text())["stages"]
    folder = SHIPPED_MODELS[name].relative_to(REPO).as_posix()
    outs = [out for out in lock[f"ship@{name}"]["outs"] if out["path"] == folder]
    assert outs, f"{folder} is not an output of ship@{name} in dvc.lock"
    assert (clone / folder / "model.onnx").is_file()  # in git (cache: false): a fresh clone serves it
