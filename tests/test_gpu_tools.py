"""tools/gpu/init_weights.py: the warm starts a GPU machine needs, packed as float16 here and
rebuilt there (run as the script, in a scratch directory standing in for each machine)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools/gpu/init_weights.py"
NETWORK = "models/warm_start/emoscan_vgg_v10_sgd_lr04_a.keras"


def run(action: str, cwd: Path, *args: str) -> str:
    done = subprocess.run([sys.executable, str(SCRIPT), action, *args], cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_warm_starts_pack_to_float16_and_unpack_at_the_path_the_run_names(tmp_path: Path) -> None:
    here, device = tmp_path / "here", tmp_path / "device"
    (here / "models/warm_start").mkdir(parents=True)
    shutil.copy(ROOT / NETWORK, here / NETWORK)
    params = {"accelerated": {"members": {"m": {"seed": 1}},
                              "students": {"a": {"init_from": NETWORK}, "b": {"init_from": NETWORK}, "c": None,
                                           # a restart of this call's member: written there, not packed
                                           "d": {"init_from": "models/accelerated/m.keras"}}}}
    (here / "params.yaml").write_text(yaml.safe_dump(params))

    assert "models__warm_start__emoscan_vgg_v10_sgd_lr04_a.npz" in run("pack", here)
    packed = here / ".gpu/init/models__warm_start__emoscan_vgg_v10_sgd_lr04_a.npz"
    assert [p.name for p in packed.parent.iterdir()] == [packed.name]  # one file per network, even named twice
    assert packed.stat().st_size < 0.6 * (ROOT / NETWORK).stat().st_size

    device.mkdir()
    assert NETWORK in run("unpack", device, "--dir", str(packed.parent))
    original = keras.saving.load_model(ROOT / NETWORK, compile=False)
    rebuilt = keras.saving.load_model(device / NETWORK, compile=False)
    x = np.random.default_rng(0).random((16, 48, 48, 1), dtype=np.float32)
    np.testing.assert_allclose(np.asarray(rebuilt(x)), np.asarray(original(x)), atol=0.02)
    for before, after in zip(original.get_weights(), rebuilt.get_weights()):
        np.testing.assert_allclose(after, before, rtol=2e-3, atol=1e-4)


def test_pack_without_warm_starts_clears_what_an_earlier_pack_left(tmp_path: Path) -> None:
    stale = tmp_path / ".gpu/init/old.npz"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"stale")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"accelerated": {"members": {"m": {}}, "students": {}}}))
    assert "nothing" in run("pack", tmp_path)
    assert not stale.exists()


def test_trained_networks_pack_by_file_name_and_unpack_where_they_were_written(tmp_path: Path) -> None:
    # trained networks come back this way, at half the bytes of their .keras files
    device, here = tmp_path / "device", tmp_path / "here"
    (device / "models/accelerated").mkdir(parents=True)
    shutil.copy(ROOT / NETWORK, device / "models/accelerated/w20_a.keras")
    shutil.copy(ROOT / NETWORK, device / "models/accelerated/kd_b.keras")
    (device / "models/accelerated/v10-cpu-distillation").mkdir()
    shutil.copy(ROOT / NETWORK, device / "models/accelerated/v10-cpu-distillation/kd_b.keras")  # same file name
    (device / "params.yaml").write_text(yaml.safe_dump({"accelerated": {"members": {}, "students": {}}}))

    out = run("pack", device, "--dir", str(tmp_path / "packed"), "--files", "models/accelerated/w20_a.keras",
              "models/accelerated/kd_b.keras", "models/accelerated/v10-cpu-distillation/kd_b.keras")
    assert len(list((tmp_path / "packed").glob("*.npz"))) == 3, out
    here.mkdir()
    restored = run("unpack", here, "--dir", str(tmp_path / "packed")).removeprefix("unpack: ").strip().split(", ")
    assert sorted(restored) == ["models/accelerated/kd_b.keras", "models/accelerated/v10-cpu-distillation/kd_b.keras",
                                "models/accelerated/w20_a.keras"]
    original = keras.saving.load_model(ROOT / NETWORK, compile=False)
    rebuilt = keras.saving.load_model(here / "models/accelerated/w20_a.keras", compile=False)
    x = np.random.default_rng(1).random((8, 48, 48, 1), dtype=np.float32)
    np.testing.assert_allclose(np.asarray(rebuilt(x)), np.asarray(original(x)), atol=0.02)

    # --to: a second call's networks, written under the same paths, kept apart by folder
    refused = subprocess.run([sys.executable, str(SCRIPT), "unpack", "--dir", str(tmp_path / "packed"), "--to",
                              str(tmp_path / "call1")], cwd=here, capture_output=True, text=True)
    assert refused.returncode != 0 and "two networks share a file name" in refused.stderr
    assert not (tmp_path / "call1").exists()
    (tmp_path / "packed" / "models__accelerated__v10-cpu-distillation__kd_b.npz").unlink()
    restored = run("unpack", here, "--dir", str(tmp_path / "packed"), "--to", str(tmp_path / "call1"))
    assert sorted(restored.removeprefix("unpack: ").strip().split(", ")) == [
        str(tmp_path / "call1/kd_b.keras"), str(tmp_path / "call1/w20_a.keras")]
    rebuilt = keras.saving.load_model(tmp_path / "call1/w20_a.keras", compile=False)
    np.testing.assert_allclose(np.asarray(rebuilt(x)), np.asarray(original(x)), atol=0.02)


def test_the_accelerated_trainer_starts_without_the_pipeline_and_service_packages() -> None:
    """A GPU machine has Keras' backend, numpy, OpenCV, ONNX Runtime and scikit-learn, and the
    wheels tools/gpu/prepare.sh carries (Keras, pydantic); not MLflow, DVC, BentoML, Great
    Expectations, Ray or the service's packages."""
    code = (
        "import sys\n"
        "class Absent:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('mlflow', 'dvc', 'bentoml', 'great_expectations', 'ray', 'limits',\n"
        "                                  'fastapi', 'starlette', 'redis'):\n"
        "            raise ImportError(f'{name} is not on a GPU machine')\n"
        "sys.meta_path.insert(0, Absent())\n"
        "from emoscan.training.fit.accelerated import main\n"
        "main(['--help'])\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0 and "--member" in done.stdout, done.stderr[-2000:]


def test_every_committed_gpu_network_has_a_frozen_stage_with_its_recipe() -> None:
    """The networks the models are assembled from are outputs of dvc.yaml's frozen `networks` stage,
    whose params are the recipe in their provenance files (the run that made the committed file)."""
    import json

    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    for name, recipe in raw["networks"].items():
        runs = {**(recipe.get("members") or {}), **(recipe.get("students") or {})}
        provenance = json.loads((ROOT / "models/warm_start" / f"{name}.json").read_text())
        if provenance.get("role") != "soup":  # one run: the recipe that made it, key by key
            (run,) = runs.values()
            assert {k: v for k, v in provenance["recipe"].items()} == {k: run[k] for k in provenance["recipe"]}, name
        else:
            assert len(recipe["soup"]) == len(provenance["ingredients"]), name
    lock = yaml.safe_load((ROOT / "dvc.lock").read_text())["stages"]
    for name in raw["networks"]:
        assert f"models/warm_start/{name}.keras" in {o["path"] for o in lock[f"networks@{name}"]["outs"]}


def test_remaking_an_unknown_network_names_it(tmp_path: Path) -> None:
    from emoscan.settings import ParamsError
    from emoscan.training.fit.accelerated import remake_network

    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"networks": {}}))
    import pytest

    with pytest.raises(ParamsError, match="networks.nope: not in"):
        remake_network(str(tmp_path / "params.yaml"), "nope")
