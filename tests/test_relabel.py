"""A second target from another label set for the same faces (the recipe's `relabel_from`): faces
joined through JPEG-like noise, classes mapped by name, and the train stage learning the mixture."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from conftest import record_training_targets, REPO, flat_params, random_splits

from emoscan.training.fit.relabel import relabelled_targets, same_faces
from emoscan.settings import ParamsError, load_params

FER = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]
PLUS = ["angry", "contempt", "disgust", "fear", "happy", "neutral", "sad", "surprise"]


def other_split(folder, x: np.ndarray, order: np.ndarray, votes: np.ndarray, seed: int = 1):
    """The faces `x[order]` with +-2 grey levels of noise (another encoding of the same pixels) and `votes`."""
    noise = np.random.default_rng(seed).integers(-2, 3, x[order].shape)
    faces = np.clip(x[order].astype(int) + noise, 0, 255).astype(np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "train.npz", x=faces, y=votes.argmax(axis=1), targets=votes)


def test_votes_join_the_labels_of_the_same_faces_whatever_their_order_and_encoding(tmp_path):
    data = random_splits(tmp_path / "fer", {"train": 40}, seed=2, every_class=True)
    with np.load(data / "train.npz") as split:
        x, y = split["x"], split["y"]
    order = np.random.default_rng(3).permutation(40)[:38]   # two faces are not relabelled at all
    votes = np.random.default_rng(4).dirichlet(np.ones(8), 38).astype(np.float32)
    votes[0] = np.eye(8)[PLUS.index("contempt")]               # all on a class FER-2013 lacks: kept as labelled
    other_split(tmp_path / "plus", x, order, votes)

    targets, found = relabelled_targets(x, y, FER, tmp_path / "plus", PLUS, 0.4)

    assert found == 37
    onehot = np.eye(7, dtype=np.float32)[y]
    for row, face in enumerate(order):
        mapped = np.delete(votes[row], PLUS.index("contempt"))
        expected = onehot[face] if row == 0 else 0.6 * onehot[face] + 0.4 * mapped / mapped.sum()
        np.testing.assert_allclose(targets[face], expected, atol=1e-6)
    for face in sorted(set(range(40)) - set(order)):
        np.testing.assert_array_equal(targets[face], onehot[face])
    np.testing.assert_allclose(targets.sum(axis=1), 1.0, atol=1e-6)


def test_different_faces_do_not_join_however_near_their_block_means(tmp_path):
    x = np.random.default_rng(5).integers(0, 255, (6, 48, 48), dtype=np.uint8)
    shuffled = x.copy()
    shuffled[0] = np.flipud(x[0])                              # same 8x8 block means in another order: a new face
    shuffled[1] = np.clip(x[1].astype(int) + 40, 0, 255)       # same layout, another exposure
    assert same_faces(x, shuffled).tolist() == [-1, -1, 2, 3, 4, 5]


def test_a_split_without_votes_or_classes_in_common_is_refused(tmp_path):
    data = random_splits(tmp_path / "plain", {"train": 8}, seed=6)
    with np.load(data / "train.npz") as split:
        x, y = split["x"], split["y"]
    with pytest.raises(ValueError, match="no vote distributions"):
        relabelled_targets(x, y, FER, data, PLUS, 0.5)
    other_split(tmp_path / "plus", x, np.arange(8), np.full((8, 8), 1 / 8, np.float32))
    with pytest.raises(ValueError, match="no class in common"):
        relabelled_targets(x, y, FER, tmp_path / "plus", ["a", "b"], 0.5)


def test_params_name_the_relabelling_dataset_its_folder_and_classes(tmp_path):
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    assert load_params(REPO / "params.yaml", model="fer2013")["train"]["relabel"] is None
    raw["models"]["fer2013"]["train"]["relabel_from"] = "ferplus"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(ParamsError, match="models.fer2013.reads: 'models/warm_start'; a model relabelled from ferplus "
                                          "reads data/ferplus/processed/train.npz"):
        load_params(tmp_path / "params.yaml", model="fer2013")
    raw["models"]["fer2013"]["reads"] = "data/ferplus/processed/train.npz"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    relabel = load_params(tmp_path / "params.yaml", model="fer2013")["train"]["relabel"]
    assert relabel == {"split_dir": "data/ferplus/processed", "classes": PLUS}
    for name, message in (("fer2013", "is the model's own dataset"), ("affectnet", "not in")):
        raw["models"]["fer2013"]["train"]["relabel_from"] = name
        (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
        with pytest.raises(ParamsError, match=f"models.fer2013.train.relabel_from.*{message}"):
            load_params(tmp_path / "params.yaml", model="fer2013")


def test_train_stage_learns_the_relabelled_targets(tmp_path, monkeypatch):
    from emoscan.training.fit import train as train_module

    data = random_splits(tmp_path / "fer", {"train": 64, "val": 32}, seed=7, every_class=True)
    with np.load(data / "train.npz") as split:
        x, y = split["x"], split["y"]
    other_split(tmp_path / "plus", x, np.arange(64), np.random.default_rng(8).dirichlet(np.ones(8), 64).astype(np.float32))
    params = flat_params()
    params["split"]["output_dir"] = str(data)
    params["train"].update(epochs=1, batch_size=32, output_dir=str(tmp_path / "train"), log_dir=str(tmp_path / "logs"),
                           init_from="", soup_with=[], width=0.25, ensemble_with=[], distill_from=[],
                           relabel_from="ferplus", relabel_weight=0.5,
                           relabel={"split_dir": str(tmp_path / "plus"), "classes": PLUS})
    params["mlflow"]["tracking_uri"] = f"sqlite:///{tmp_path / 'mlflow.db'}"
    seen = record_training_targets(monkeypatch)
    train_module.train(params)
    expected, found = relabelled_targets(x, y, FER, tmp_path / "plus", PLUS, 0.5)
    assert found == 64
    np.testing.assert_allclose(seen["targets"], expected, atol=1e-6)
