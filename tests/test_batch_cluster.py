"""`emoscan batch` on a Ray cluster of two nodes on this machine (Ray's own test cluster: a head and
a second node, one CPU each): both nodes do work and the output equals a single-node run."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

pytest.importorskip("ray", reason="emoscan batch needs the batch extra: pip install -e '.[batch]'")
pytestmark = pytest.mark.slow


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
