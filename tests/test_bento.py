"""`bentoml build` makes a self-contained bento: code, params, shipped model, dependencies and a
Dockerfile for `bentoml containerize`; the bento itself serves."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import requests
import yaml

from conftest import BIN, REPO, free_port, run, stop_process, wait_until_up

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bento(tmp_path_factory) -> tuple[Path, dict]:
    env = {"BENTOML_HOME": str(tmp_path_factory.mktemp("bentoml"))}
    run(["bentoml", "build", "--output", "tag"], cwd=REPO, env=env, timeout=600)
    info = json.loads(run(["bentoml", "get", "emoscan:latest", "-o", "json"], cwd=REPO, env=env).stdout)
    tag = f"{info['name']}:{info['version']}"
    path = Path(env["BENTOML_HOME"]) / "bentos" / info["name"] / info["version"]
    return path, {**env, "TAG": tag}


def test_bento_holds_code_model_and_dependencies(bento):
    path, _ = bento
    src = path / "src"
    for name in ("service.py", "params.yaml", "src/emoscan/service/app.py", "src/emoscan/inference/detectors/base.py",
                 "src/emoscan/models/emoscan-fer2013/model.onnx", "src/emoscan/models/emoscan-fer2013/labels.json",
                 "src/emoscan/models/emoscan-ferplus/model.onnx", "src/emoscan/models/emoscan-ferplus/labels.json",
                 "src/emoscan/models/emoscan-fer2013-fast/model.onnx", "src/emoscan/models/emoscan-fer2013-fast/labels.json",
                 "src/emoscan/inference/detectors/models/yunet_s_dynamic.onnx",
                 "src/emoscan/inference/detectors/models/LICENSE-YuNet-Apache-2.0",
                 "src/emoscan/service/web/index.html", "src/emoscan/service/web/app.js"):
        assert (src / name).is_file(), name
    assert not (src / "data").exists() and not (src / "tests").exists()
    assert not list(src.glob("models/**/*.keras")), "serving runs the ONNX graph; Keras weights stay out"
    requirements = (path / "env" / "python" / "requirements.txt").read_text()
    for package in ("onnxruntime", "opencv-python-headless", "fastapi"):
        assert package in requirements
    assert "tensorflow" not in requirements, "serving needs no TensorFlow"


def test_generated_dockerfile(bento):
    path, _ = bento
    dockerfile = next(path.glob("env/docker/Dockerfile*"))
    text = dockerfile.read_text()
    assert "python" in text.lower() and "EXPOSE 3000" in text
    assert "ENV PORT=$PORT" in text and "ARG PORT=3000" in text and "ARG MAX_WORKERS=1" in text, \
        "the service's environment defaults reach the image"


def serve_and_detect(command: list[str], cwd: Path, env: dict, log_path: Path, photo: Path) -> dict:
    """Start `command` (a `bentoml serve`), wait for /readyz, return /metadata with the faces that
    /detect finds on `photo` under "faces" and the web page's title under "web_page"; the server is
    stopped afterwards."""
    port = free_port()
    log = open(log_path, "w")
    proc = subprocess.Popen([*command, "--port", str(port), "--host", "127.0.0.1"], cwd=cwd, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/readyz", proc, log_path, 180)
        meta = requests.get(f"{url}/metadata", timeout=5).json()
        meta["faces"] = requests.post(f"{url}/detect", files={"image": open(photo, "rb")}, timeout=30).json()["faces"]
        page = requests.get(f"{url}/ui", timeout=5)
        meta["web_page"] = page.text.split("<title>")[1].split("</title>")[0] if page.ok else page.status_code
        return meta
    finally:
        stop_process(proc)
        log.close()


def test_the_bento_serves_the_shipped_model(bento, media, tmp_path):
    """`bentoml serve TAG` in this development environment, where an editable install of the checkout
    is importable too: the bento serves its own copy of the model."""
    path, env = bento
    full_env = {**os.environ, **env, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    full_env.pop("MODEL_PATH", None)
    full_env.pop("EMOSCAN_PARAMS", None)
    meta = serve_and_detect([str(BIN / "bentoml"), "serve", env["TAG"]], tmp_path, full_env, tmp_path / "bento.log",
                            media["astronaut"])
    assert meta["model"]["origin"] == "shipped"
    assert Path(meta["model"]["path"]).resolve() == (path / "src" / "src" / "emoscan" / "models" / "emoscan-fer2013").resolve()
    assert len(meta["faces"]) == 1


def test_the_bento_starts_from_its_own_locked_requirements_alone(bento, media, tmp_path):
    """What `bentoml containerize` puts in the image, without Docker: a clean virtual environment
    from the bento's locked requirements.txt only, `bentoml serve` started inside the bento's
    folder with this checkout out of reach. The served model is the copy inside the bento."""
    path, _ = bento
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "-r",
         str(path / "env" / "python" / "requirements.txt")], timeout=900)
    env = {"PATH": f"{venv / 'bin'}{os.pathsep}/usr/bin:/bin", "HOME": str(tmp_path),
           "BENTOML_HOME": str(tmp_path / "bentoml"), "LANG": "C.UTF-8"}
    meta = serve_and_detect([str(venv / "bin" / "bentoml"), "serve", "."], path / "src", env,
                            tmp_path / "bento.log", media["astronaut"])
    log = (tmp_path / "bento.log").read_text()
    assert f"from {path / 'src' / 'src' / 'emoscan' / 'models' / 'emoscan-fer2013'}" in log, log[-2000:]
    assert Path(meta["model"]["path"]).resolve() == (path / "src" / "src" / "emoscan" / "models" / "emoscan-fer2013").resolve()
    assert len(meta["faces"]) == 1
    assert meta["web_page"] == "emoscan: faces and emotions", "the web page travels in the bento"
    assert "[the web page](ui/)" in (path / "README.md").read_text(), "the bento's description links it"


def test_serving_dependencies_are_declared_once():
    """pyproject's core dependencies and its serve extra are what the bento installs, less BentoML
    itself (the bento's own)."""
    with open(REPO / "pyproject.toml", "rb") as f:
        project = tomllib.load(f)["project"]
    serving = project["dependencies"] + project["optional-dependencies"]["serve"]
    bentofile = yaml.safe_load((REPO / "bentofile.yaml").read_text())["python"]["packages"]
    assert sorted(bentofile) == sorted(d for d in serving if re.split(r"[<>=!~ \[]", d)[0] != "bentoml")
