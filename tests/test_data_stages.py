"""fetch, split and validate on real FER-2013 images and on deliberately broken inputs."""

from __future__ import annotations

import csv
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from emoscan.settings import ParamsError
from emoscan.data.fetch import FetchError, fetch
from emoscan.data.split import split_dataset
from emoscan.data.validate import DataValidationError, validate

CLASSES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
SPLIT_CFG = {"val_fraction": 0.2, "seed": 7, "subset_fraction": 1.0, "cross_split_duplicates": "drop"}
VALIDATE_CFG = {
    "expected_distribution": {c: 1 / 7 for c in CLASSES},
    "distribution_tolerance": 0.05, "min_count_per_class": 2,
}


def zip_folder(folder: Path, archive: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(archive, "w") as zf:
        for f in folder.rglob("*"):
            if f.is_file():
                zf.write(f, prefix + str(f.relative_to(folder)))
    return archive


def fetch_cfg(source: str, path: Path, out: Path) -> dict:
    return {"source": source, "local_path": str(path), "output_dir": str(out), "kaggle_dataset": "msambare/fer2013"}


def test_fetch_from_zip_nested_and_folder(small_raw, tmp_path):
    archive = zip_folder(small_raw, tmp_path / "fer.zip", prefix="fer2013/")
    info = fetch(fetch_cfg("auto", archive, tmp_path / "raw"))
    assert info["source"] == "zip" and len(info["sha256"]) == 64
    assert info["counts"]["train"] == {c: 30 for c in CLASSES}
    assert info["counts"]["test"] == {c: 8 for c in CLASSES}
    info = fetch(fetch_cfg("auto", small_raw, tmp_path / "raw2"))
    assert info["source"] == "folder" and len(list((tmp_path / "raw2" / "test" / "happy").iterdir())) == 8


def test_fetch_from_csv_and_malformed_row(small_raw, tmp_path):
    csv_labels = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    rows = []
    for split, usage in (("train", "Training"), ("test", "PublicTest")):
        for label in CLASSES:
            for f in sorted((small_raw / split / label).iterdir())[:3]:
                pixels = np.asarray(Image.open(f).convert("L")).ravel()
                rows.append([csv_labels.index(label), " ".join(map(str, pixels)), usage])
    good = tmp_path / "fer2013.csv"
    with open(good, "w", newline="") as h:
        w = csv.writer(h)
        w.writerow(["emotion", "pixels", "Usage"])
        w.writerows(rows)
    info = fetch(fetch_cfg("auto", good, tmp_path / "raw"))
    assert info["source"] == "csv" and info["counts"]["train"]["sad"] == 3
    first = next((tmp_path / "raw" / "train" / "sad").iterdir())
    assert Image.open(first).size == (48, 48)

    bad = tmp_path / "bad.csv"
    rows[4][1] = "1 2 3"
    with open(bad, "w", newline="") as h:
        w = csv.writer(h)
        w.writerow(["emotion", "pixels", "Usage"])
        w.writerows(rows)
    with pytest.raises(FetchError, match=r"bad.csv:6: malformed pixels"):
        fetch(fetch_cfg("csv", bad, tmp_path / "raw"))
    assert first.exists(), "a failed fetch must leave the earlier output untouched"


def test_fetch_rejects_bad_sources_and_keeps_previous_output(small_raw, tmp_path):
    out = tmp_path / "raw"
    fetch(fetch_cfg("folder", small_raw, out))
    before = sorted(p.name for p in (out / "train" / "angry").iterdir())

    not_fer = tmp_path / "other.zip"
    with zipfile.ZipFile(not_fer, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(FetchError, match="not FER-2013"):
        fetch(fetch_cfg("zip", not_fer, out))

    broken = tmp_path / "broken"
    shutil.copytree(small_raw, broken)
    shutil.rmtree(broken / "test" / "disgust")
    with pytest.raises(FetchError, match=r"missing in test/: disgust"):
        fetch(fetch_cfg("auto", zip_folder(broken, tmp_path / "broken.zip"), out))

    (tmp_path / "garbage.zip").write_bytes(b"not a zip at all")
    with pytest.raises(FetchError, match="not a zip file"):
        fetch(fetch_cfg("zip", tmp_path / "garbage.zip", out))
    with pytest.raises(FetchError, match="does not exist.*fetch.local_path"):
        fetch(fetch_cfg("auto", tmp_path / "nowhere.zip", out))
    with pytest.raises(FetchError, match="fetch.source"):
        fetch(fetch_cfg("ftp", small_raw, out))
    assert sorted(p.name for p in (out / "train" / "angry").iterdir()) == before


def run_split(raw: Path, out: Path, **overrides) -> dict:
    return split_dataset(raw, {**SPLIT_CFG, "output_dir": str(out), **overrides})


def test_split_is_deterministic_stratified_and_handles_duplicates(small_raw, tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(small_raw, raw)
    # one test image copied into train under another name: a cross-split duplicate
    leak = next((raw / "test" / "happy").iterdir())
    shutil.copy(leak, raw / "train" / "happy" / "copy_of_test.jpg")
    report = run_split(raw, tmp_path / "a")
    again = run_split(raw, tmp_path / "b")
    assert (tmp_path / "a" / "manifest.csv").read_text() == (tmp_path / "b" / "manifest.csv").read_text()
    assert report == again
    assert report["cross_split_duplicates"] >= 1
    manifest = pd.read_csv(tmp_path / "a" / "manifest.csv")
    assert manifest.loc[manifest["path"].str.endswith("copy_of_test.jpg"), "split"].item() == "dropped"
    training = manifest[manifest["split"].isin(["train", "val"])]
    unique = training.drop_duplicates("hash").groupby("label").size()
    # stratified by unique image: 20% of each class's distinct images go to validation
    assert report["counts"]["val"] == {c: round(0.2 * unique[c]) for c in CLASSES}
    assert training.groupby("hash")["split"].nunique().max() == 1, "copies must not straddle train/val"
    with np.load(tmp_path / "a" / "train.npz") as d:
        assert d["x"].shape[1:] == (48, 48) and d["x"].dtype == np.uint8
        assert len(d["x"]) == len(d["y"]) == sum(report["counts"]["train"].values())

    kept = run_split(raw, tmp_path / "c", cross_split_duplicates="keep")
    def training_total(r):
        return sum(sum(r["counts"][s].values()) for s in ("train", "val"))
    assert training_total(kept) == training_total(report) + report["cross_split_duplicates"]


def test_split_rejects_bad_params(small_raw, tmp_path):
    with pytest.raises(ParamsError, match="split.val_fraction"):
        run_split(small_raw, tmp_path / "x", val_fraction=2.0)
    with pytest.raises(ParamsError, match="split.cross_split_duplicates"):
        run_split(small_raw, tmp_path / "x", cross_split_duplicates="maybe")


def validated(raw: Path, tmp_path: Path, **split_overrides) -> dict:
    run_split(raw, tmp_path / "processed", **split_overrides)
    return validate(tmp_path / "processed" / "manifest.csv", {**VALIDATE_CFG, "report_dir": str(tmp_path / "report")})


def test_validation_passes_on_clean_data_and_writes_reports(small_raw, tmp_path):
    summary = validated(small_raw, tmp_path)
    assert summary["success"] and not summary["failures"]
    assert Path(summary["data_docs"]).is_file()
    saved = json.loads((tmp_path / "report" / "validation.json").read_text())
    assert saved["statistics"]["images"]["successful_expectations"] == 7


@pytest.mark.parametrize("damage, message", [
    ("truncated", r"expect_column_values_to_be_in_set on 'decodes': 1 unexpected: \S*broken\.jpg\n(?!.*height)"),
    ("wrong_size", r"on 'height'.*big\.png"),
    ("rgb", r"on 'channels'.*colour\.png"),
    ("leak", r"on 'test_image_in_train'"),
    ("imbalance", r"on 'deviation'"),
])
def test_validation_fails_on_corrupt_data(small_raw, tmp_path, damage, message):
    raw = tmp_path / "raw"
    shutil.copytree(small_raw, raw)
    overrides = {}
    sample = next((raw / "train" / "angry").iterdir())
    if damage == "truncated":
        (raw / "train" / "angry" / "broken.jpg").write_bytes(sample.read_bytes()[:300])
    elif damage == "wrong_size":
        Image.open(sample).resize((64, 64)).save(raw / "train" / "angry" / "big.png")
    elif damage == "rgb":
        Image.open(sample).convert("RGB").save(raw / "train" / "angry" / "colour.png")
    elif damage == "leak":
        shutil.copy(next((raw / "test" / "fear").iterdir()), raw / "train" / "fear" / "leak.jpg")
        overrides["cross_split_duplicates"] = "keep"
    elif damage == "imbalance":
        for f in list((raw / "train" / "happy").iterdir())[:25]:
            f.unlink()
    with pytest.raises(DataValidationError, match=message):
        validated(raw, tmp_path, **overrides)
    assert (tmp_path / "report" / "validation.json").is_file()
