"""emoscan as a user installs it: the sdist and wheel built from the working tree, the wheel installed
with its core dependencies into a fresh virtual environment, used from a folder outside the checkout.
Then the `serve` extra in the same environment, and the service started from the installed package."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import cv2
import pytest
import requests

from conftest import copy_project, free_port, stop_process, wait_until_up

pytestmark = pytest.mark.slow
#: the core install's size limit (numpy, OpenCV headless, ONNX Runtime, Pillow, PyYAML, pydantic, tqdm)
CORE_MB = 420


def sh(cmd: list[str], cwd: Path, env: dict, check: bool = True, timeout: int = 900) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> dict[str, Path]:
    """`python -m build` of the tracked files: an sdist, and a wheel built from that sdist."""
    root = tmp_path_factory.mktemp("package")
    project = copy_project(root / "project")
    sh([sys.executable, "-m", "build", "--outdir", str(root / "dist"), str(project)], root, dict(os.environ))
    return {"wheel": next((root / "dist").glob("emoscan-*.whl")), "sdist": next((root / "dist").glob("emoscan-*.tar.gz"))}


@pytest.fixture(scope="module")
def installed(dist, tmp_path_factory) -> dict:
    """A fresh virtual environment with the wheel and its core dependencies only; a working folder
    outside the checkout with a real photo in it; an environment with no emoscan variables."""
    root = tmp_path_factory.mktemp("installed")
    venv = root / "venv"
    sh([sys.executable, "-m", "venv", str(venv)], root, dict(os.environ))
    env = {k: v for k, v in os.environ.items()
           if k not in ("MODEL_PATH", "EMOSCAN_PARAMS", "PYTHONPATH", "VIRTUAL_ENV") and not k.startswith("PYTEST")}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env['PATH']}", BENTOML_HOME=str(root / "bentoml"))
    sh([str(venv / "bin/python"), "-m", "pip", "install", "--quiet", str(dist["wheel"])], root, env)
    work = root / "work"
    work.mkdir()
    from skimage import data  # a real photo of one face (NASA's, public domain)

    cv2.imwrite(str(work / "photo.jpg"), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    return {"venv": venv, "python": str(venv / "bin/python"), "emoscan": str(venv / "bin/emoscan"), "env": env,
            "work": work, "wheel": dist["wheel"]}


def test_the_wheel_carries_the_models_the_detector_its_licences_and_metadata(dist):
    names = zipfile.ZipFile(dist["wheel"]).namelist()
    for model in ("emoscan-fer2013", "emoscan-ferplus", "emoscan-fer2013-fast"):
        for file in ("model.onnx", "labels.json", "preprocessing.json", "MODEL_CARD.md"):
            assert f"emoscan/models/{model}/{file}" in names
    assert "emoscan/inference/detectors/models/yunet_s_dynamic.onnx" in names
    assert any(n.endswith("licenses/src/emoscan/inference/detectors/models/LICENSE-YuNet-Apache-2.0") for n in names)
    assert not any(n.endswith(".keras") or n.endswith("params.yaml") for n in names)
    meta = zipfile.ZipFile(dist["wheel"]).read(next(n for n in names if n.endswith("METADATA"))).decode()
    import emoscan

    assert f"Version: {emoscan.__version__}" in meta and "License-Expression: MIT" in meta
    assert "Provides-Extra: serve" in meta and "Classifier: Programming Language :: Python :: 3.11" in meta
    assert "# emoscan" in meta  # the README is the long description
    core = [line for line in meta.splitlines() if line.startswith("Requires-Dist:") and "extra ==" not in line]
    assert not any(heavy in line for line in core for heavy in ("bentoml", "fastapi", "limits", "matplotlib", "tensorflow"))


def test_the_core_install_is_small_and_has_no_service_dependencies(installed):
    site = next((installed["venv"] / "lib").glob("python3.*/site-packages"))
    size = sum(f.stat().st_size for f in site.rglob("*") if f.is_file()) / 1e6
    assert size <= CORE_MB, f"the core install is {size:.0f} MB (at most {CORE_MB})"
    probe = sh([installed["python"], "-c", "import bentoml"], installed["work"], installed["env"], check=False)
    assert probe.returncode != 0 and "No module named 'bentoml'" in probe.stderr


def test_the_api_reads_emotions_with_each_shipped_model_outside_the_checkout(installed):
    script = (
        "import emoscan\n"
        "for name in (None, 'ferplus', 'fer2013-fast'):\n"
        "    r = emoscan.EmotionRecognizer(name) if name else emoscan.EmotionRecognizer()\n"
        "    faces = r.detect_emotions('photo.jpg')\n"
        "    print(name, r.source.origin, r.source.path, len(r.labels), len(faces), r.top_emotion('photo.jpg')[0])\n"
        "print(emoscan.__file__)\n"
    )
    out = sh([installed["python"], "-c", script], installed["work"], installed["env"]).stdout.splitlines()
    site = str(installed["venv"])
    assert out[-1].startswith(site)  # the installed copy, not the checkout
    for line, (name, classes) in zip(out, (("None", 7), ("ferplus", 8), ("fer2013-fast", 7))):
        got_name, origin, path, n_classes, n_faces, emotion = line.split()
        assert (got_name, origin, int(n_classes), int(n_faces)) == (name, "shipped", classes, 1), line
        assert path.startswith(site) and emotion == "happy", line


@pytest.mark.parametrize("model", [None, "ferplus", "fer2013-fast"])
def test_emoscan_predict_works_from_the_installed_package(installed, model):
    proc = sh([installed["emoscan"], "predict", "photo.jpg", *(["--model", model] if model else [])],
              installed["work"], installed["env"])
    assert proc.stdout.startswith("photo.jpg: 1 face(s): happy"), proc.stdout


@pytest.mark.parametrize("command, extra", [
    (["serve"], "serve"),
    (["batch", "photo.jpg", "-o", "out.parquet"], "batch"),
    (["video", "clip.mp4", "--plot", "plot.png"], "plot"),
    (["predict", "photo.jpg", "--model", "champion:emoscan-fer2013"], "serve"),
])
def test_a_command_that_needs_an_extra_names_it_in_one_line(installed, command, extra):
    (installed["work"] / "clip.mp4").write_bytes(b"not read: the extra is checked first")
    proc = sh([installed["emoscan"], *command], installed["work"], installed["env"], check=False)
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert f"pip install 'emoscan[{extra}]'" in proc.stderr
    assert not (installed["work"] / "out.parquet").exists() and not (installed["work"] / "plot.png").exists()


def test_emoscan_version_is_the_package_version(installed):
    import emoscan

    assert sh([installed["emoscan"], "--version"], installed["work"], installed["env"]).stdout.strip() == (
        f"emoscan {emoscan.__version__}")


def test_the_serve_extra_serves_the_installed_package_over_http(installed):
    """Runs last in this module: it adds the serve extra to the environment the tests above checked."""
    sh([installed["python"], "-m", "pip", "install", "--quiet", f"{installed['wheel']}[serve]"], installed["work"],
       installed["env"])
    port = free_port()
    log_path = installed["work"] / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([installed["emoscan"], "serve", "--port", str(port), "--host", "127.0.0.1"],
                                cwd=installed["work"], env=installed["env"], stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/readyz", proc, log_path, 180)
        with open(installed["work"] / "photo.jpg", "rb") as f:
            body = requests.post(f"{url}/detect", files={"image": ("photo.jpg", f, "image/jpeg")}, timeout=60).json()
        assert len(body["faces"]) == 1 and body["emotion"] == "happy", body
        model = requests.get(f"{url}/metadata", timeout=10).json()["model"]
        assert model["name"] == "emoscan-fer2013" and model["origin"] == "shipped"
        assert model["path"].startswith(str(installed["venv"]))
        assert "serving emoscan-fer2013 (shipped)" in log_path.read_text()
    finally:
        stop_process(proc)
