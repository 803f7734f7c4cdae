"""`emoscan batch` on a real Ray: a cluster of two nodes on this machine (Ray's own test cluster: a
head and a second node, one CPU each) sharing a job, the same faces as the Python API, bad files as
error rows, inputs from folders, globs and manifests, CSV, and a job killed twice that a rerun
completes."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import BIN, REPO, run

pytest.importorskip("ray", reason="emoscan batch needs the batch extra: pip install -e '.[batch]'")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray for the in-process jobs of this module (run_batch uses it and leaves it up)."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def folder(tmp_path_factory, media) -> Path:
    """Real photos (one, three and no faces) in a folder and a subfolder, and a real video."""
    root = tmp_path_factory.mktemp("batch") / "inputs"
    (root / "more").mkdir(parents=True)
    shutil.copy(media["three_faces"], root / "three_faces.jpg")
    shutil.copy(media["astronaut"], root / "more" / "astronaut.jpg")
    shutil.copy(media["one_face_png"], root / "more" / "one_face.png")
    shutil.copy(media["no_face"], root / "no_face.jpg")
    shutil.copy(media["video"], root / "faces.mp4")
    return root


def tables(output: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The faces, files and errors tables of a Parquet output (errors empty when absent)."""
    from emoscan.batch.sink import table_paths

    paths = table_paths(output, "parquet")
    return (pd.read_parquet(paths["faces"]), pd.read_parquet(paths["files"]),
            pd.read_parquet(paths["errors"]) if paths["errors"].exists() else pd.DataFrame(columns=["source", "error"]))


def test_two_nodes_share_the_job_and_agree_with_one(media, detectable_faces, tmp_path):
    import cv2
    import ray
    from ray.cluster_utils import Cluster

    from conftest import place_faces
    from emoscan.batch import run_batch

    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(24):
        faces = [detectable_faces[(i + k) % len(detectable_faces)] for k in range(1 + i % 3)]
        cv2.imwrite(str(photos / f"photo_{i:02d}.jpg"), place_faces(faces, size=150))
    shutil.copy(media["video"], photos / "faces.mp4")
    assert not ray.is_initialized()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        report = run_batch([str(photos)], tmp_path / "cluster" / "results.parquet", address=cluster.address,
                           files_per_task=2, frame_rate=5, progress=False)
    finally:
        ray.shutdown()
        cluster.shutdown()
    assert report.workers == 2 and report.failed == 0
    files = pd.read_parquet(tmp_path / "cluster" / "results.files.parquet")
    assert files["node"].nunique() == 2, "both nodes analysed files"
    single = run_batch([str(photos)], tmp_path / "single" / "results.parquet", workers=1, frame_rate=5, progress=False)
    assert single.faces == report.faces > 24

    def ordered(path):
        table = pd.read_parquet(path).drop(columns=["node"], errors="ignore")
        return table.sort_values(["source", "frame", "x", "y"], na_position="first").reset_index(drop=True)

    pd.testing.assert_frame_equal(ordered(tmp_path / "cluster" / "results.parquet"),
                                  ordered(tmp_path / "single" / "results.parquet"), check_exact=False, atol=1e-5)


def test_the_cli_finds_what_the_python_api_finds(folder, tmp_path):
    import emoscan

    output = tmp_path / "results.parquet"
    proc = run([str(BIN / "emoscan"), "batch", str(folder), "--output", str(output), "--frame-rate", "5", "--quiet"],
               timeout=300)
    faces, files, _ = tables(output)
    assert len(files) == 5 and set(files["status"]) == {"ok"}, files
    assert '"faces"' in proc.stdout
    # Ray's INFO and WARNING lines (its logger's "<time>\tLEVEL file:line -- ...") stay in its logs
    chatter = [line for line in proc.stderr.splitlines() if re.search(r"\t(INFO|WARNING) \S+:\d+ -- ", line)]
    assert not chatter, chatter
    recognizer = emoscan.EmotionRecognizer()
    expected_columns = {f"p_{c}" for c in recognizer.labels}
    assert expected_columns <= set(faces.columns) and {"x", "y", "width", "height", "roll", "model"} <= set(faces.columns)
    for path in sorted(folder.rglob("*.jpg")) + sorted(folder.rglob("*.png")):
        mine = faces[faces["source"] == str(path)].sort_values("confidence", ascending=False)
        theirs = sorted(recognizer.detect_emotions(str(path)), key=lambda f: -f.confidence)
        assert len(mine) == len(theirs), path
        for (_, row), face in zip(mine.iterrows(), theirs):
            assert [row.x, row.y, row.width, row.height] == face.box.to_list()
            assert row.emotion == face.emotion
            np.testing.assert_allclose([row[f"p_{c}"] for c in recognizer.labels],
                                       [face.probabilities[c] for c in recognizer.labels], atol=1e-4)
    video = faces[faces["source"] == str(folder / "faces.mp4")]
    analysis = recognizer.analyze_video(folder / "faces.mp4", frame_rate=5)
    assert len(video) == sum(len(r.faces) for r in analysis.results) > 0
    for result in analysis.results:
        rows = video[video["frame"] == result.frame]
        assert sorted(rows["emotion"]) == sorted(f.emotion for f in result.faces)
        assert np.allclose(rows["timestamp"], round(result.timestamp, 4))
    assert files.set_index("source").loc[str(folder / "faces.mp4"), "frames_analysed"] == len(analysis.results)


def test_bad_files_are_error_rows_and_the_rest_is_done(local_ray, folder, media, tmp_path):
    from emoscan.batch import run_batch

    mixed = tmp_path / "mixed"
    shutil.copytree(folder, mixed, ignore=shutil.ignore_patterns("*.mp4"))
    shutil.copy(media["truncated"], mixed / "truncated.jpg")
    (mixed / "empty.jpg").write_bytes(b"")
    (mixed / "notes.txt").write_text("not a picture\n")
    shutil.copy(media["not_video"], mixed / "notes.mp4")
    report = run_batch([str(mixed)], tmp_path / "out" / "results.parquet", progress=False)
    faces, files, errors = tables(tmp_path / "out" / "results.parquet")
    assert report.analysed == len(files) == 8 and report.failed == 4
    reasons = dict(zip(errors["source"].map(lambda s: Path(s).name), errors["error"]))
    assert set(reasons) == {"truncated.jpg", "empty.jpg", "notes.txt", "notes.mp4"}, reasons
    assert "Empty" in reasons["empty.jpg"] and reasons["notes.mp4"], reasons
    good = files[files["status"] == "ok"]
    assert len(good) == 4 and good["faces"].sum() == len(faces) == report.faces == 5


def test_globs_manifests_and_csv(local_ray, folder, tmp_path):
    from emoscan.batch import collect_inputs, run_batch
    from emoscan.batch.inputs import InputError

    assert collect_inputs([f"{folder}/**/*.png"]) == [str(folder / "more" / "one_face.png")]
    manifest = tmp_path / "manifest.csv"
    pd.DataFrame({"path": [str(folder / "no_face.jpg"), os.path.relpath(folder / "three_faces.jpg", tmp_path)],
                  "label": ["a", "b"]}).to_csv(manifest, index=False)
    assert collect_inputs([str(manifest)]) == [str(folder / "no_face.jpg"), str(folder / "three_faces.jpg")]
    with pytest.raises(InputError, match="no such file"):
        collect_inputs([str(tmp_path / "missing")])
    report = run_batch([str(manifest)], tmp_path / "results.csv", output_format="csv", progress=False)
    faces = pd.read_csv(tmp_path / "results.csv")
    files = pd.read_csv(tmp_path / "results.files.csv")
    assert report.analysed == 2 and len(faces) == 3 and sorted(files["faces"]) == [0, 3]
    again = run_batch([str(manifest)], tmp_path / "results.csv", output_format="csv", progress=False)
    assert again.skipped == 2 and again.analysed == 0 and len(pd.read_csv(tmp_path / "results.csv")) == 3


def test_a_job_stopped_by_ctrl_c_and_killed_is_completed_by_a_rerun(media, detectable_faces, tmp_path):
    """Ctrl-C (exit 130) leaves a readable output, and so does Ctrl-C pressed twice; a kill of the
    whole process group (Ray too) in the middle of writing leaves parts that the next run cleans
    up; the last run completes the job, each file once, with what an uninterrupted run finds."""
    import cv2

    from conftest import place_faces

    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(120):  # larger photos: seconds of work for one worker, time to stop it twice
        face = detectable_faces[i % len(detectable_faces)]
        cv2.imwrite(str(photos / f"photo_{i:03d}.jpg"), place_faces([face], size=200, canvas=(720, 960)))
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["batch"].update(files_per_task=1, files_per_part=2)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    env = {**os.environ, "EMOSCAN_PARAMS": str(tmp_path / "params.yaml"), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    output = tmp_path / "out" / "results.parquet"
    command = [str(BIN / "emoscan"), "batch", str(photos), "--output", str(output), "--quiet", "--workers", "1"]

    def start_and_stop(sig: int, parts: int, twice: bool = False) -> subprocess.Popen:
        proc = subprocess.Popen(command, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        files = output.with_name("results.files.parquet")
        deadline = time.time() + 120
        while time.time() < deadline and len(list(files.glob("part-*.parquet"))) < parts and proc.poll() is None:
            time.sleep(0.05)
        assert proc.poll() is None, f"the job ended before it could be stopped: {proc.stderr.read()[-2000:]}"
        (proc.send_signal if sig == signal.SIGINT else lambda s: os.killpg(proc.pid, s))(sig)
        if twice:  # while the job writes what it has and shuts Ray down
            time.sleep(0.3)
            proc.send_signal(sig)
        proc.wait(60)
        return proc

    first = start_and_stop(signal.SIGINT, 1)
    assert first.returncode == 130, first.stderr.read()[-2000:]
    _, files, _ = tables(output)
    assert 2 <= len(files) < 120, "Ctrl-C keeps what was done"
    again = start_and_stop(signal.SIGINT, len(files) // 2 + 2, twice=True)
    assert again.returncode == 130, again.stderr.read()[-2000:]
    _, more_files, _ = tables(output)
    assert len(files) < len(more_files) < 120, "Ctrl-C twice keeps what was done"
    files = more_files
    second = start_and_stop(signal.SIGKILL, len(files) // 2 + 2)
    assert second.returncode == -signal.SIGKILL
    run(command, env=env, timeout=300)
    faces, files, _ = tables(output)
    assert sorted(files["source"]) == sorted(str(p) for p in photos.glob("*.jpg")), "each file exactly once"
    assert len(faces) == files["faces"].sum() == 120, "one face per photo, none twice"
