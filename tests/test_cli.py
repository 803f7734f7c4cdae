"""The real `emoscan` CLI as a subprocess on real images and videos."""

from __future__ import annotations

import csv
import json
import shutil
import tempfile
from pathlib import Path

import cv2
import pytest

from conftest import run

pytestmark = pytest.mark.slow


ISOLATED = {"MODEL_PATH": "", "BENTOML_HOME": tempfile.mkdtemp(prefix="emoscan-cli-bentoml-")}


def emoscan(*args, check=True):
    """Run the CLI with the shipped model (no MODEL_PATH, an empty BentoML store)."""
    return run(["emoscan", *map(str, args)], check=check, env=ISOLATED)


def test_help_lists_every_command():
    out = emoscan("--help").stdout
    for command in ("predict", "video", "live", "import-champion"):
        assert command in out
    for command, option in (("predict", "--annotate"), ("video", "--frame-rate"), ("live", "--headless")):
        assert option in emoscan(command, "--help").stdout


def test_predict_json_and_annotate(media, tmp_path):
    out = emoscan("predict", media["three_faces"], media["astronaut"], "--json", "--annotate", tmp_path).stdout
    results = json.loads(out)
    assert [len(r["faces"]) for r in results] == [3, 1]
    assert results[0]["faces"][0]["emotion"] in results[0]["faces"][0]["probabilities"]
    annotated = cv2.imread(str(tmp_path / media["three_faces"].name))
    original = cv2.imread(str(media["three_faces"]))
    assert annotated.shape == original.shape and (annotated != original).any()
    text = emoscan("predict", media["no_face"]).stdout
    assert "0 face(s)" in text


def test_video_json_csv_annotate_and_plot(media, tmp_path):
    body = json.loads(emoscan("video", media["video"], "--frame-rate", "2", "--json").stdout)
    assert body["summary"]["total_frames"] == 6 and body["results"][2]["timestamp"] == "00:00:01.000"
    out_csv, out_mp4, out_png = tmp_path / "faces.csv", tmp_path / "annotated.mp4", tmp_path / "timeline.png"
    emoscan("video", media["video"], "--csv", out_csv, "--annotate", out_mp4, "--plot", out_png, "--no-progress")
    rows = list(csv.DictReader(open(out_csv)))
    assert len(rows) == sum(len(r["faces"]) for r in json.loads(
        emoscan("video", media["video"], "--json").stdout)["results"])
    assert set(rows[0]) >= {"frame", "timestamp", "emotion", "confidence", "happy"}
    source_fps = cv2.VideoCapture(str(media["video"])).get(cv2.CAP_PROP_FPS)
    capture = cv2.VideoCapture(str(out_mp4))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 30
    assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(source_fps)
    assert (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))) == (640, 480)
    capture.release()
    assert out_png.stat().st_size > 10_000


def test_predict_reads_folders_recursively_and_reports_bad_images_without_stopping(media, tmp_path):
    folder = tmp_path / "photos"
    (folder / "nested").mkdir(parents=True)
    shutil.copy(media["three_faces"], folder / "three.jpg")
    shutil.copy(media["astronaut"], folder / "nested" / "astronaut.jpg")
    shutil.copy(media["truncated"], folder / "nested" / "broken.jpg")
    (folder / "notes.txt").write_text("not an image, and not an image's name")
    proc = emoscan("predict", folder, "--json", check=False)
    results = {Path(r["image"]).name: len(r["faces"]) for r in json.loads(proc.stdout)}
    assert results == {"three.jpg": 3, "astronaut.jpg": 1}
    assert proc.returncode == 1 and "broken.jpg: Corrupt or truncated image" in proc.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = emoscan("predict", empty, check=False)
    assert proc.returncode == 2 and "a folder with no image files" in proc.stderr


def test_live_headless_writes_every_frame(media, tmp_path):
    out = tmp_path / "live.mp4"
    proc = emoscan("live", "--source", media["video"], "--headless", "--output", out)
    assert "30 frames" in proc.stdout
    capture = cv2.VideoCapture(str(out))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 30
    capture.release()


@pytest.mark.parametrize("args, message", [
    (["predict", "missing.jpg"], "missing.jpg: no such file"),
    (["predict", "{not_video}"], "Not an image"),
    (["predict", "{truncated}"], "Corrupt or truncated image"),
    (["predict", "--model", "missing_bundle", "{truncated}"], "--model missing_bundle: no such file or folder"),
    (["video", "{not_video}"], "not a readable video"),
    (["video", "{video}", "--frame-rate", "0"], "--frame-rate must be > 0"),
    (["live", "--source", "9", "--headless", "--output", "o.mp4"], "cannot open video source 9"),
    (["live", "--source", "rtsp://127.0.0.1:1/none", "--headless", "--output", "o.mp4"], "cannot open video source"),
    (["live", "--source", "{video}", "--headless"], "--headless needs --output"),
])
def test_errors_are_one_line_with_nonzero_exit(media, args, message):
    args = [a.format(not_video=media["not_video"], video=media["video"], truncated=media["truncated"]) for a in args]
    proc = emoscan(*args, check=False)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
