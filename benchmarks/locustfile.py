"""Mixed traffic for Locust against an emoscan server: about 80% /detect with real photos of
several sizes, 10% /detect-video, 10% bad inputs (each must get its 4xx, never a 5xx).

    locust -f benchmarks/locustfile.py --headless -u 16 -r 4 -t 10m --host http://127.0.0.1:3000
    (or benchmarks/bench_soak.py, which starts the server and samples its memory)
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import cv2
from locust import HttpUser, between, task

from _media import face_frame, write_video

PHOTOS = [cv2.imencode(".jpg", face_frame(w, h), [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
          for w, h in ((320, 240), (640, 480), (1280, 720), (1920, 1080))]
with tempfile.TemporaryDirectory() as _tmp:
    VIDEO = write_video(Path(_tmp) / "clip.mp4", frames=45).read_bytes()  # 1.5 s at 30 fps
BAD = [  # (route, multipart files, form data, expected status)
    ("/detect", {"image": ("notes.txt", b"not an image")}, None, 415),
    ("/detect", {"foo": ("face.jpg", PHOTOS[0])}, None, 400),
    ("/detect", {"image": ("cut.jpg", PHOTOS[1][: len(PHOTOS[1]) // 3])}, None, 400),
    ("/detect-video", {"video": ("v.mp4", VIDEO)}, {"frame_rate": "fast"}, 400),
    ("/detect-video", {"video": ("face.jpg", PHOTOS[0])}, None, 415),
]


class Visitor(HttpUser):
    wait_time = between(0.0, 0.2)

    @task(8)
    def detect(self) -> None:
        self.client.post("/detect", files={"image": ("photo.jpg", random.choice(PHOTOS), "image/jpeg")})

    @task(1)
    def detect_video(self) -> None:
        self.client.post("/detect-video", files={"video": ("clip.mp4", VIDEO, "video/mp4")}, data={"frame_rate": "5"},
                         name="/detect-video")

    @task(1)
    def bad_input(self) -> None:
        route, files, data, status = random.choice(BAD)
        with self.client.post(route, files=files, data=data, name=f"{route} (bad input)", catch_response=True) as r:
            if r.status_code == status:
                r.success()
            else:
                r.failure(f"expected {status}, got {r.status_code}")
