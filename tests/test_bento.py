"""`bentoml build` makes a self-contained bento: code, params, shipped model, dependencies and a
Dockerfile for `bentoml containerize`; the bento itself serves."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import requests

from conftest import BIN, REPO, free_port, run

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
    for name in ("service.py", "params.yaml", "src/emoscan/service/app.py", "src/emoscan/inference/detector.py",
                 "models/emoscan-fer2013/model.onnx", "models/emoscan-fer2013/labels.json"):
        assert (src / name).is_file(), name
    assert not (src / "data").exists() and not (src / "tests").exists()
    assert not list(src.glob("models/**/*.keras")), "serving runs the ONNX graph; Keras weights stay out"
    requirements = (path / "env" / "python" / "requirements.txt").read_text()
    for package in ("onnxruntime", "yuface", "opencv-python-headless"):
        assert package in requirements
    assert "tensorflow" not in requirements, "serving needs no TensorFlow"


def test_generated_dockerfile(bento):
    path, _ = bento
    dockerfile = next(path.glob("env/docker/Dockerfile*"))
    text = dockerfile.read_text()
    assert "python" in text.lower() and "EXPOSE 3000" in text


def test_the_bento_serves_the_shipped_model(bento, media, tmp_path):
    _, env = bento
    port = free_port()
    full_env = {**os.environ, **env, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    full_env.pop("MODEL_PATH", None)
    full_env.pop("EMOSCAN_PARAMS", None)
    log = open(tmp_path / "bento.log", "w")
    proc = subprocess.Popen([str(BIN / "bentoml"), "serve", env["TAG"], "--port", str(port), "--host", "127.0.0.1"],
                            cwd=tmp_path, env=full_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if requests.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert proc.poll() is None, (tmp_path / "bento.log").read_text()[-3000:]
            time.sleep(1)
        meta = requests.get(f"{url}/metadata", timeout=5).json()
        # (in this dev venv the editable install of emoscan may be imported instead of the bento's copy,
        # which test_bento_holds_code_model_and_dependencies checks; a container only has the bento's)
        assert meta["model"]["origin"] == "shipped"
        body = requests.post(f"{url}/detect", files={"image": open(media["astronaut"], "rb")}, timeout=30).json()
        assert len(body["faces"]) == 1
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()
