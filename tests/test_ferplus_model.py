"""The shipped FER+ model (`models/emoscan-ferplus/`) through every way in: the Python API by name,
the CLI's --model, and the real BentoML server with MODEL_PATH=ferplus. Every answer carries the
bundle's eight classes, contempt among them."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import time

import numpy as np
import pytest
import requests

import emoscan
from conftest import BIN, REPO, free_port, run
from emoscan.data.ferplus import FERPLUS_CLASSES
from emoscan.inference.bundle import SHIPPED_MODELS

pytestmark = pytest.mark.slow
ISOLATED = {"MODEL_PATH": "", "BENTOML_HOME": "/nonexistent-bentoml-home"}


def test_the_api_takes_the_shipped_model_by_name(media):
    recognizer = emoscan.EmotionRecognizer("ferplus")
    assert recognizer.labels == FERPLUS_CLASSES and recognizer.source.path == SHIPPED_MODELS["ferplus"]
    (face,) = recognizer.detect_emotions(media["astronaut"])
    assert list(face.probabilities) == list(FERPLUS_CLASSES)
    assert sum(face.probabilities.values()) == pytest.approx(1.0, abs=1e-3)
    assert recognizer.classify_crops(np.full((1, 48, 48), 128, np.uint8)).shape == (1, 8)
    summary = recognizer.analyze_video(media["video"], frame_rate=2).summary()
    assert list(summary["emotion_distribution"]) == list(FERPLUS_CLASSES)


def test_the_cli_takes_model_ferplus(media, tmp_path):
    out = run(["emoscan", "predict", str(media["astronaut"]), "--model", "ferplus", "--json"], env=ISOLATED).stdout
    assert list(json.loads(out)["faces"][0]["probabilities"]) == list(FERPLUS_CLASSES)
    run(["emoscan", "video", str(media["video"]), "--model", "ferplus", "--csv", str(tmp_path / "f.csv")],
        env=ISOLATED)
    with open(tmp_path / "f.csv") as handle:
        header = next(csv.reader(handle))
    assert header[-8:] == list(FERPLUS_CLASSES)


def test_the_server_serves_ferplus_from_model_path(media, tmp_path):
    port = free_port()
    env = {**os.environ, "MODEL_PATH": "ferplus", "BENTOML_HOME": str(tmp_path / "bentoml"),
           "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    log = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen([str(BIN / "bentoml"), "serve", "service:Emoscan", "--port", str(port), "--host",
                             "127.0.0.1"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if requests.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert proc.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
            time.sleep(1)
        meta = requests.get(f"{url}/metadata", timeout=5).json()
        assert meta["classes"] == list(FERPLUS_CLASSES) and meta["model"]["name"] == "emoscan-ferplus"
        body = requests.post(f"{url}/detect", files={"image": open(media["astronaut"], "rb")}, timeout=30).json()
        assert list(body["faces"][0]["probabilities"]) == list(FERPLUS_CLASSES)
        video = requests.post(f"{url}/detect-video", files={"video": ("v.mp4", media["video"].read_bytes())},
                              data={"frame_rate": "2"}, timeout=60).json()
        assert list(video["summary"]["emotion_distribution"]) == list(FERPLUS_CLASSES)
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()
