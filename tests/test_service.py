"""The real BentoML server on loopback, called over HTTP with real images and videos."""

from __future__ import annotations

import io
import json
import os
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image

from conftest import bentoml_server
from emoscan.inference.bundle import SHIPPED_MODEL_DIR

pytestmark = pytest.mark.slow
LIMITS = {"max_image_mb": 1, "max_video_mb": 2, "rate_limit_detect_per_min": 40, "rate_limit_video_per_min": 12}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with bentoml_server(tmp_path_factory.mktemp("server"), service=LIMITS) as (url, _):
        yield url


def post(url, path, field, file: Path | bytes, name="upload.jpg", data=None):
    content = file.read_bytes() if isinstance(file, Path) else file
    return requests.post(f"{url}{path}", files={field: (name, content)}, data=data, timeout=120)


def test_metadata_and_health(server):
    assert requests.get(f"{server}/healthz", timeout=5).status_code == 200
    meta = requests.get(f"{server}/metadata", timeout=5).json()
    assert meta["classes"] == ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]
    assert meta["model"]["origin"] == "shipped", "a fresh clone serves the model shipped in the repo"
    assert "YuNet" in meta["face_detector"]["name"]
    assert meta["limits"]["max_image_mb"] == 1
    shipped = json.loads((SHIPPED_MODEL_DIR / "preprocessing.json").read_text())
    # one knob for test-time augmentation: the bundle's (export.tta), not a run-time setting
    assert "tta" not in meta["inference"] and meta["model"]["test_time_augmentation"] == shipped["test_time_augmentation"]
    # the shipped bundle is the int8 graph (v10: without class offsets), and the service says so
    assert meta["model"]["quantization"] == shipped["quantization"] == "int8"
    if shipped["class_log_offsets"] is None:
        assert meta["model"]["class_offsets"] is None
    else:
        assert list(meta["model"]["class_offsets"].values()) == pytest.approx(shipped["class_log_offsets"])


def test_detect_finds_every_face(server, media):
    body = post(server, "/detect", "image", media["three_faces"]).json()
    assert len(body["faces"]) == 3
    for face in body["faces"]:
        assert set(face["box"]) == {"x", "y", "width", "height"} and face["box"]["width"] >= 80
        assert face["emotion"] in face["probabilities"]
        assert sum(face["probabilities"].values()) == pytest.approx(1, abs=1e-3)
        assert face["confidence"] == pytest.approx(max(face["probabilities"].values()), abs=1e-4)
    areas = [f["box"]["width"] * f["box"]["height"] for f in body["faces"]]
    assert body["face_location"] == body["faces"][areas.index(max(areas))]["box"]
    assert body["emotion"] == body["faces"][0]["emotion"] and body["image"] == {"width": 640, "height": 480}


@pytest.mark.parametrize("key, count", [("astronaut", 1), ("one_face_png", 1)])
def test_detect_real_photo_and_png(server, media, key, count):
    response = post(server, "/detect", "image", media[key], name=media[key].name)
    assert response.status_code == 200 and len(response.json()["faces"]) == count


def test_detect_webp_and_bmp(server, media):
    image = Image.open(media["astronaut"])
    for fmt in ("WEBP", "BMP"):
        buffer = io.BytesIO()
        image.save(buffer, format=fmt)
        response = post(server, "/detect", "image", buffer.getvalue(), name=f"a.{fmt.lower()}")
        assert response.status_code == 200 and len(response.json()["faces"]) == 1, fmt


def test_no_face_is_200_with_error(server, media):
    response = post(server, "/detect", "image", media["no_face"])
    assert response.status_code == 200
    assert response.json()["error"] == "No face detected" and response.json()["faces"] == []


def png_header_bomb(width=30000, height=30000) -> bytes:
    """A valid PNG that declares 30000x30000 pixels (a decompression bomb) with one compressed row."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * (width + 1))) + chunk(b"IEND", b"")


@pytest.mark.parametrize("case, status, message", [
    ("missing", 400, "No image uploaded"),
    ("text", 415, "Not an image"),
    ("empty", 400, "Empty image file"),
    ("truncated", 400, "Corrupt or truncated image"),
    ("bomb", 413, "Image too large"),
    ("gif", 415, "Unsupported image format GIF"),
    ("too_big", 413, "Image too large: the limit is 1 MB"),
])
def test_detect_rejects_bad_input_with_json_error(server, media, case, status, message):
    if case == "missing":
        response = requests.post(f"{server}/detect", files={"other": ("x.txt", b"hi")}, timeout=30)
    else:
        payload = {"text": media["not_video"].read_bytes(), "empty": b"", "truncated": media["truncated"].read_bytes(),
                   "bomb": png_header_bomb(), "too_big": os.urandom(1_200_000)}.get(case)
        if case == "gif":
            buffer = io.BytesIO()
            Image.new("L", (64, 64)).save(buffer, format="GIF")
            payload = buffer.getvalue()
        response = post(server, "/detect", "image", payload)
    assert response.status_code == status
    assert message in response.json()["error"]
    assert requests.get(f"{server}/healthz", timeout=5).status_code == 200, "the server keeps serving"


@pytest.mark.parametrize("route, field", [("/detect", "image"), ("/detect-video", "video")])
def test_a_file_under_another_field_name_is_a_400_naming_the_field(server, media, route, field):
    """curl -F foo=@face.jpg: BentoML JSON-decodes unknown form fields, so a binary file under
    another name was a 500; the middleware refuses it first, naming the field it expected."""
    response = requests.post(f"{server}{route}", files={"foo": ("face.jpg", media["astronaut"].read_bytes())},
                             timeout=30)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert "unknown form field 'foo'" in error and f"'{field}'" in error
    assert post(server, "/detect", "image", media["astronaut"]).status_code == 200, "the server keeps serving"


def test_a_photo_sent_as_a_video_is_a_415(server, media):
    response = post(server, "/detect-video", "video", media["astronaut"], name="face.jpg")
    assert response.status_code == 415, response.text
    assert "still image, not a video" in response.json()["error"]


def test_detect_video_analyses_frames_and_summarises(server, media):
    response = post(server, "/detect-video", "video", media["video"], name="faces.mp4", data={"frame_rate": "2"})
    assert response.status_code == 200, response.text
    body = response.json()
    summary = body["summary"]
    assert summary["total_frames"] == len(body["results"]) == 6  # 3 s at 2 analysed frames per second
    assert [r["frame"] for r in body["results"]] == [0, 5, 10, 15, 20, 25]
    assert body["results"][1]["timestamp"] == "00:00:00.500"
    assert summary["faces_detected"] == sum(len(r["faces"]) for r in body["results"]) >= 10
    assert summary["duration"] == pytest.approx(3.0) and summary["fps"] == pytest.approx(10.0)
    assert sum(summary["emotion_distribution"].values()) == pytest.approx(1, abs=1e-3)
    assert summary["dominant_emotion"] == max(summary["emotion_distribution"], key=summary["emotion_distribution"].get)
    face = body["results"][0]["faces"][0]
    assert len(face["box"]) == 4 and set(face["probabilities"]) == set(summary["emotion_distribution"])


def test_detect_video_avi_default_rate(server, media):
    body = post(server, "/detect-video", "video", media["video_avi"], name="faces.avi").json()
    assert body["summary"]["total_frames"] == 3 and body["summary"]["frame_rate"] == 1.0


@pytest.mark.parametrize("case, status, message", [
    ("missing", 400, "No video uploaded"),
    ("text", 415, "Not a decodable video"),
    ("empty", 400, "Empty video file"),
    ("rate_word", 400, "frame_rate must be a number"),
    ("rate_zero", 400, "frame_rate must be > 0"),
    ("too_big", 413, "Video too large: the limit is 2 MB"),
])
def test_detect_video_rejects_bad_input(server, media, case, status, message):
    if case == "missing":
        response = requests.post(f"{server}/detect-video", data={"frame_rate": "1"}, timeout=30)
    else:
        payload = {"text": media["not_video"], "empty": b"", "rate_word": media["video"], "rate_zero": media["video"],
                   "too_big": os.urandom(2_500_000)}[case]
        rate = {"rate_word": "fast", "rate_zero": "0"}.get(case)
        response = post(server, "/detect-video", "video", payload, name="v.mp4",
                        data={"frame_rate": rate} if rate else None)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]


def test_bentoml_client_gets_what_the_python_api_finds(server, media):
    """BentoML's own typed client against the server; the same faces as `emoscan.EmotionRecognizer`
    (the same decoding, detector and classifier) on the same file. Before the rate-limit test,
    which spends this client address's requests."""
    import bentoml

    import emoscan

    recognizer = emoscan.EmotionRecognizer(SHIPPED_MODEL_DIR)
    with bentoml.SyncHTTPClient(server) as client:
        for key in ("three_faces", "astronaut"):
            answer = client.detect(image=[media[key]])
            assert answer["faces"] == [f.to_dict() for f in recognizer.detect_emotions(media[key])], key
        with pytest.raises(bentoml.exceptions.BentoMLException, match="Not an image"):
            client.detect(image=[media["not_video"]])
        video = client.detect_video(video=[media["video"]], frame_rate=2)
        analysis = recognizer.analyze_video(media["video"], frame_rate=2).to_dict()
        assert video["results"] == analysis["results"] and len(video["results"]) == 6
        assert video["summary"] == {**analysis["summary"], "frame_rate": 2.0}


def test_rate_limits_answer_429_with_retry_after(server, media):
    payload = media["no_face"].read_bytes()
    statuses = [post(server, "/detect", "image", payload).status_code for _ in range(LIMITS["rate_limit_detect_per_min"] + 1)]
    assert statuses[-1] == 429 and 200 in statuses
    limited = post(server, "/detect", "image", payload)
    assert limited.status_code == 429
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    assert "Rate limit exceeded" in limited.json()["error"]
    assert requests.get(f"{server}/metadata", timeout=5).status_code == 200, "other routes are not limited"


def test_each_worker_analyses_as_many_requests_at_once_as_the_setting(server):
    from emoscan.service.app import Emoscan
    from emoscan.settings import load_settings

    threads = load_settings().service.threads
    assert Emoscan.config["threads"] == threads >= 1
    assert requests.get(f"{server}/metadata", timeout=5).json()["limits"]["threads"] == threads
