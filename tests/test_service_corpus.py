"""A corpus of bad inputs against the real server: each gets a 4xx JSON error saying what was
wrong, and the server answers a good /detect right after it."""

from __future__ import annotations

import io
import socket
import time

import cv2
import numpy as np
import pytest
import requests
from PIL import Image

from conftest import bentoml_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("corpus")
    limits = {"rate_limit_detect_per_min": 100_000, "rate_limit_video_per_min": 100_000,
              "max_video_frames_analysed": 20, "max_image_mb": 1, "max_video_mb": 2, "upload_idle_seconds": 2}
    with bentoml_server(tmp, service=limits) as (url, _):
        yield url


def image_bytes(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def video_bytes(tmp_path, frames: int, fps: float = 10.0) -> bytes:
    path = tmp_path / f"v{frames}.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (160, 120))
    for i in range(frames):
        writer.write(np.full((120, 160, 3), i % 255, np.uint8))
    writer.release()
    return path.read_bytes()


def still_serving(url: str, photo: bytes) -> None:
    good = requests.post(f"{url}/detect", files={"image": ("face.jpg", photo)}, timeout=30)
    assert good.status_code == 200 and len(good.json()["faces"]) == 1, "the server answers a good request after it"


def case_requests(tmp_path, media) -> dict:
    """case -> (route, files, data, headers/body override, expected status, words in the error)."""
    frames = [Image.new("L", (32, 32), v) for v in (0, 128, 255)]
    gif = image_bytes(frames[0], "GIF", save_all=True, append_images=frames[1:])
    tiff = image_bytes(frames[0], "TIFF", save_all=True, append_images=frames[1:])
    video = video_bytes(tmp_path, 30)
    return {
        "json body": ("/detect", None, None, {"json": {"image": "face.jpg"}}, 400, ""),
        "animated gif": ("/detect", {"image": ("a.gif", gif)}, None, None, 415, "GIF"),
        "multi-page tiff": ("/detect", {"image": ("a.tiff", tiff)}, None, None, 415, "TIFF"),
        "frame_rate nan": ("/detect-video", {"video": ("v.mp4", video)}, {"frame_rate": "nan"}, None, 400, "frame_rate"),
        "frame_rate inf": ("/detect-video", {"video": ("v.mp4", video)}, {"frame_rate": "inf"}, None, 400, "frame_rate"),
        "frame_rate 1e9": ("/detect-video", {"video": ("v.mp4", video)}, {"frame_rate": "1e9"}, None, 400, "frame_rate"),
        "frame_rate 0": ("/detect-video", {"video": ("v.mp4", video)}, {"frame_rate": "0"}, None, 400, "frame_rate"),
        "cut-off video": ("/detect-video", {"video": ("v.mp4", video[: len(video) // 2])}, None, None, 415,
                          "Not a decodable video"),
        "no frames": ("/detect-video", {"video": ("v.mp4", video_bytes(tmp_path, 0))}, None, None, 400, ""),
        "text as video": ("/detect-video", {"video": ("v.mp4", b"just text " * 100)}, None, None, 415,
                          "Not a decodable video"),
        "url-encoded form": ("/detect", None, {"image": "http://127.0.0.1:1/x.jpg"}, None, 400,
                             "url-encoded form cannot carry a file"),
        "file field as value": ("/detect", {"other": (None, "x")}, None, None, 400, ""),
    }


CASES = ["json body", "animated gif", "multi-page tiff", "frame_rate nan", "frame_rate inf", "frame_rate 1e9",
         "frame_rate 0", "cut-off video", "no frames", "text as video", "url-encoded form", "file field as value"]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_gets_a_4xx_saying_what_was_wrong(server, media, tmp_path, case):
    route, files, data, extra, status, words = case_requests(tmp_path, media)[case]
    response = requests.post(f"{server}{route}", files=files, data=data, timeout=60, **(extra or {}))
    assert 400 <= response.status_code < 500, (case, response.status_code, response.text)
    if status:
        assert response.status_code == status or words == "", (case, response.status_code, response.text)
    assert words in response.json()["error"], response.text
    still_serving(server, media["astronaut"].read_bytes())


def test_more_frames_than_the_limit_are_capped(server, media, tmp_path):
    response = requests.post(f"{server}/detect-video", files={"video": ("v.mp4", video_bytes(tmp_path, 40))},
                             data={"frame_rate": "30"}, timeout=60)
    assert response.status_code == 200 and response.json()["summary"]["total_frames"] == 20


def raw_post(url: str, body_parts: list[bytes], declared_length: int, pause: float = 0.0, shut: bool = True) -> bytes:
    """A multipart POST to /detect over a raw socket, sent in parts (with a pause between them),
    then the sending side closed (unless not `shut`); returns what the server answered before
    closing (b"" if nothing)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(b"POST /detect HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=B\r\n"
                     + f"Content-Length: {declared_length}\r\n\r\n".encode())
        for part in body_parts:
            sock.sendall(part)
            time.sleep(pause)
        if shut:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def test_an_upload_cut_off_mid_body_and_a_trickled_one(server, media):
    photo = media["astronaut"].read_bytes()
    body = (b"--B\r\nContent-Disposition: form-data; name=\"image\"; filename=\"f.jpg\"\r\n\r\n" + photo
            + b"\r\n--B--\r\n")
    raw_post(server, [body[: len(body) // 2]], len(body))  # the client goes away half-way
    still_serving(server, photo)
    assert in_progress(server) == 0, "the cut-off request is over, not left waiting for the rest"
    started = time.time()
    pieces = [body[i:i + len(body) // 8 + 1] for i in range(0, len(body), len(body) // 8 + 1)]
    answer = raw_post(server, pieces, len(body), pause=0.3)  # about 3 s of trickling bytes
    assert answer.startswith(b"HTTP/1.1 200") and b'"faces"' in answer, answer[:300]
    assert time.time() - started < 30
    still_serving(server, photo)
    started = time.time()
    answer = raw_post(server, [body[: len(body) // 2]], len(body), shut=False)  # stops sending, stays connected
    assert answer.startswith(b"HTTP/1.1 408") and b"stalled" in answer and time.time() - started < 15, answer[:300]
    assert in_progress(server) == 0
    still_serving(server, photo)


def in_progress(url: str) -> float:
    """/detect requests the server counts as in progress (BentoML's Prometheus gauge)."""
    metrics = requests.get(f"{url}/metrics", timeout=5).text
    return sum(float(line.split()[-1]) for line in metrics.splitlines()
               if line.startswith("bentoml_service_request_in_progress") and 'endpoint="/detect"' in line)
