"""The FER+ data path: FERPlus's layout fetched, split with vote distributions as targets,
validated with Great Expectations; and the warm start of an eight-class network from a
seven-class one."""

from __future__ import annotations

import csv
import io
import zipfile

import numpy as np
import pandas as pd
import pytest

from emoscan.data.ferplus import (FERPLUS_CLASSES, NO_MAJORITY, VOTE_COLUMNS, fetch_ferplus, majority_labels,
                                  read_folder, split_ferplus, vote_distribution)
from emoscan.data.split import load_split, load_targets
from emoscan.data.validate import DataValidationError, validate_votes


def votes(**counts) -> list[int]:
    return [counts.get(column, 0) for column in VOTE_COLUMNS]


def test_majority_and_vote_distribution_follow_ferplus_rules():
    table = np.asarray([
        votes(happiness=8, neutral=2),             # happy
        votes(contempt=6, anger=3, sadness=1),     # contempt; the single sad vote is an outlier
        votes(neutral=4, sadness=4, surprise=2),   # a tie: no majority
        votes(unknown=6, fear=4),                  # "unknown" leads: no majority
        votes(NF=10),                              # not a face
    ])
    labels = majority_labels(table)
    assert [FERPLUS_CLASSES[i] if i != NO_MAJORITY else None for i in labels] == \
        ["happy", "contempt", None, None, None]
    targets = vote_distribution(table)
    assert targets[0][FERPLUS_CLASSES.index("happy")] == pytest.approx(0.8)
    assert targets[1][FERPLUS_CLASSES.index("sad")] == 0.0, "single votes are dropped as outliers"
    assert targets[1][FERPLUS_CLASSES.index("contempt")] == pytest.approx(6 / 9)
    np.testing.assert_allclose(targets[:4].sum(axis=1), 1.0, rtol=1e-6)
    assert targets[4].sum() == 0.0, "no emotion vote: no target"


@pytest.fixture(scope="module")
def small_ferplus(tmp_path_factory, ferplus_zip):
    """A FERPlus-layout zip of real rows: every class's majority images (a few each), some rows
    without a majority, and one training image that is also a validation image."""
    out = tmp_path_factory.mktemp("ferplus") / "small.zip"
    with zipfile.ZipFile(ferplus_zip) as source, zipfile.ZipFile(out, "w") as target:
        for folder, per_class in (("FER2013Train", 12), ("FER2013Valid", 6)):
            rows = list(csv.reader(io.StringIO(source.read(f"{folder}/label.csv").decode())))
            labels = majority_labels(np.asarray([[int(v) for v in r[2:]] for r in rows]))
            chosen = [i for c in [*range(len(FERPLUS_CLASSES)), NO_MAJORITY] for i in np.flatnonzero(labels == c)[:per_class]]
            picked = [rows[i] for i in sorted(chosen)]
            if folder == "FER2013Train":  # a validation image's pixels under a training name
                leaked = next(csv.reader(io.StringIO(source.read("FER2013Valid/label.csv").decode())))
                target.writestr(f"{folder}/leaked.png", source.read(f"FER2013Valid/{leaked[0]}"))
                picked.append(["leaked.png", *leaked[1:]])
            for row in picked:
                if row[0] != "leaked.png":
                    target.writestr(f"{folder}/{row[0]}", source.read(f"{folder}/{row[0]}"))
            text = io.StringIO()
            csv.writer(text).writerows(picked)
            target.writestr(f"{folder}/label.csv", text.getvalue())
    return out


def test_fetch_split_and_validate_a_ferplus_zip(small_ferplus, tmp_path):
    info = fetch_ferplus({"local_path": str(small_ferplus), "output_dir": str(tmp_path / "raw")})
    assert info["counts"]["train"] == 12 * 9 + 1 and len(info["sha256"]) == 64
    assert (tmp_path / "raw" / "FER2013Valid" / "label.csv").is_file()
    report = split_ferplus(tmp_path / "raw", {"output_dir": str(tmp_path / "processed")})
    manifest = pd.read_csv(tmp_path / "processed" / "manifest.csv")
    dropped = manifest.loc[manifest["split"] == "dropped", "path"].tolist()
    assert "FER2013Train/leaked.png" in dropped, "the training copy of a validation image is dropped"
    assert report["cross_split_duplicates"] == len(dropped)
    x, y, targets = load_targets(tmp_path / "processed", "train")
    assert len(x) == sum(report["counts"]["train"][c] for c in FERPLUS_CLASSES) >= 12 * 8 - len(dropped)
    assert set(y) == set(range(8)), "rows without a majority are left out"
    np.testing.assert_allclose(targets.sum(axis=1), 1.0, rtol=1e-5)
    assert (targets.argmax(axis=1) == y).mean() > 0.95
    x_val, y_val = load_split(tmp_path / "processed", "val")
    assert len(x_val) == 6 * 8
    summary = validate_votes(tmp_path / "processed" / "manifest.csv", {"report_dir": str(tmp_path / "report")},
                             list(FERPLUS_CLASSES))
    assert summary["success"] and (tmp_path / "report" / "validation.json").is_file()


def test_bad_votes_fail_validation_naming_the_image(small_ferplus, tmp_path):
    fetch_ferplus({"local_path": str(small_ferplus), "output_dir": str(tmp_path / "raw")})
    split_ferplus(tmp_path / "raw", {"output_dir": str(tmp_path / "processed")})
    manifest = pd.read_csv(tmp_path / "processed" / "manifest.csv")
    manifest.loc[3, "happiness"] = 11
    manifest.loc[5, "split"] = "val"  # a training image in validation too
    manifest.loc[len(manifest)] = {**manifest.loc[5].to_dict(), "split": "train"}
    manifest.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(DataValidationError) as error:
        validate_votes(tmp_path / "bad.csv", {"report_dir": str(tmp_path / "report")}, list(FERPLUS_CLASSES))
    message = str(error.value)
    assert "happiness" in message and manifest.loc[3, "path"] in message
    assert "val_image_in_train" in message


def test_a_ferplus_layout_error_names_the_file(tmp_path):
    from emoscan.data.ferplus import FerPlusLayoutError

    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("FER2013Train/label.csv", "a.png,\"(0, 0, 48, 48)\",1,2\n")
    with pytest.raises(FerPlusLayoutError, match="label.csv line 1: expected 12 columns"):
        read_folder(bad, "train")
    with pytest.raises(FerPlusLayoutError, match="no FER2013Train/label.csv"):
        read_folder(tmp_path, "train")


def test_an_eight_class_network_starts_from_a_seven_class_one_by_class_name():
    import keras

    from emoscan import CLASSES
    from emoscan.training.nets.architectures import build_model
    from emoscan.training.nets.transfer import start_weights

    seven = build_model("emoscan_vgg", 48, 7, width=0.25)
    eight = build_model("emoscan_vgg", 48, 8, width=0.25)
    weights = start_weights(seven, eight, FERPLUS_CLASSES)
    eight.set_weights(weights)
    kernel7, kernel8 = seven.layers[-1].get_weights()[0], eight.layers[-1].get_weights()[0]
    for name in CLASSES:
        np.testing.assert_array_equal(kernel8[:, FERPLUS_CLASSES.index(name)], kernel7[:, CLASSES.index(name)])
    np.testing.assert_allclose(kernel8[:, FERPLUS_CLASSES.index("contempt")], kernel7.mean(axis=1), rtol=1e-6)
    for a, b in zip(seven.layers[1].get_weights(), eight.layers[1].get_weights()):
        np.testing.assert_array_equal(a, b)
    x = np.random.default_rng(0).random((4, 48, 48, 1), dtype=np.float32)
    p7, p8 = np.asarray(seven(x)), np.asarray(eight(x))
    assert (p8[:, [FERPLUS_CLASSES.index(c) for c in CLASSES]].argmax(1) == p7.argmax(1)).all()
    assert isinstance(eight, keras.Model)
