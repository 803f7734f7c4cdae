"""Model soup: averaged weights, re-estimated BatchNorm statistics, and the train stage assembling one."""

from __future__ import annotations

import json
import sys

import keras
import numpy as np
import pytest
import yaml
from conftest import REPO, flat_params, random_splits, run
from emoscan.settings import load_params

from emoscan.settings import ParamsError
from emoscan.training.nets.architectures import build_model
from emoscan.inference.preprocess import normalize
from emoscan.training.fit.soup import average_weights, reestimate_batchnorm, warm_start


def tiny_network() -> keras.Model:
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.BatchNormalization(name="bn_in")(inputs)
    x = keras.layers.Dropout(0.5, name="drop")(x)
    x = keras.layers.Conv2D(3, 3, padding="same", name="conv")(x)
    x = keras.layers.BatchNormalization(name="bn_conv")(x)
    x = keras.layers.Flatten()(x)
    return keras.Model(inputs, keras.layers.Dense(7, activation="softmax")(x))


def warm_restarts(folder, seed: int, count: int = 3) -> list[str]:
    """`count` width-0.25 "warm restarts" of one network (its weights moved a little), saved in
    `folder` as ingredient0.keras...; their paths."""
    rng = np.random.default_rng(seed)
    keras.utils.set_random_seed(seed)
    start = build_model("emoscan_vgg", width=0.25)
    paths = []
    for i in range(count):
        net = build_model("emoscan_vgg", width=0.25)
        net.set_weights([w + rng.normal(0, 0.01, w.shape).astype(w.dtype) for w in start.get_weights()])
        net.save(folder / f"ingredient{i}.keras")
        paths.append(str(folder / f"ingredient{i}.keras"))
    return paths


def test_average_weights_is_the_elementwise_mean_and_refuses_another_width():
    nets = []
    for seed in range(3):
        keras.utils.set_random_seed(seed)
        nets.append(build_model("emoscan_vgg", width=0.25))
    expected = [np.mean(ws, axis=0) for ws in zip(*(n.get_weights() for n in nets))]
    assert not np.allclose(nets[0].get_weights()[0], expected[0])
    souped = average_weights(nets)
    for got, want in zip(souped.get_weights(), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    with pytest.raises(ValueError, match="weight shapes differ"):
        average_weights([build_model("emoscan_vgg", width=0.25), build_model("emoscan_vgg", width=0.5)])


def test_reestimated_batchnorm_statistics_are_those_of_each_layers_input():
    keras.utils.set_random_seed(0)
    net = tiny_network()
    images = np.random.default_rng(1).normal(3.0, 2.0, (64, 8, 8, 1)).astype(np.float32)
    reestimate_batchnorm(net, images, batch_size=64)  # one batch: the batch statistics are the population's
    bn_in, bn_conv = net.get_layer("bn_in"), net.get_layer("bn_conv")
    np.testing.assert_allclose(np.asarray(bn_in.moving_mean), [images.mean()], rtol=1e-5)
    np.testing.assert_allclose(np.asarray(bn_in.moving_variance), [images.var()], rtol=1e-4)
    # the second layer sees the first one's output normalised with the new statistics, dropout off
    conv_out = np.asarray(keras.Model(net.inputs, net.get_layer("conv").output)(images, training=False))
    np.testing.assert_allclose(np.asarray(bn_conv.moving_mean), conv_out.mean(axis=(0, 1, 2)), atol=1e-4)
    np.testing.assert_allclose(np.asarray(bn_conv.moving_variance), conv_out.var(axis=(0, 1, 2)), rtol=1e-3)
    assert net.get_layer("drop").rate == 0.5 and bn_in.momentum == bn_conv.momentum == 0.99

    reestimate_batchnorm(net, images, batch_size=16)  # equal batches: the mean of their means is the mean
    np.testing.assert_allclose(np.asarray(bn_in.moving_mean), [images.mean()], rtol=1e-5)


def test_train_stage_assembles_the_soup_of_init_from_and_soup_with(tmp_path, monkeypatch):
    import mlflow

    from emoscan.training.fit.train import train

    data = random_splits(tmp_path / "processed", {"train": 96, "val": 40}, seed=4)
    paths = warm_restarts(tmp_path, seed=4)
    (tmp_path / "ingredient1.json").write_text(json.dumps({"device": "NVIDIA H200", "epochs": 3}))
    params = flat_params()
    params["split"]["output_dir"] = str(data)
    params["train"].update(epochs=0, width=0.25, init_from=paths[0], soup_with=paths[1:], ensemble_with=[],
                           distill_from=[], soup_batchnorm_images=64, output_dir=str(tmp_path / "train"),
                           log_dir=str(tmp_path / "logs"))
    params["mlflow"]["tracking_uri"] = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)

    summary = train(params)
    saved = keras.saving.load_model(tmp_path / "train" / "model.keras", compile=False)
    ingredients = [keras.saving.load_model(p, compile=False) for p in paths]
    assert summary["soup_with"] == paths[1:]
    by_ingredient = [n.get_weights() for n in ingredients]
    for i, (got, variable) in enumerate(zip(saved.get_weights(), saved.weights, strict=True)):
        averaged = np.mean([weights[i] for weights in by_ingredient], axis=0)
        if "moving" in variable.path:  # re-estimated on the drawn training images, not averaged
            assert not np.allclose(got, averaged), variable.path
        else:
            np.testing.assert_allclose(got, averaged, rtol=1e-5, atol=1e-7, err_msg=variable.path)
    mlflow.set_tracking_uri(params["mlflow"]["tracking_uri"])
    logged = {a.path for a in mlflow.MlflowClient().list_artifacts(summary["run_id"], "members")}
    assert logged == {"members/ingredient1.json"}

    params["train"].update(epochs=1, init_from="")
    with pytest.raises(ParamsError, match="train.soup_with: the networks are averaged with train.init_from"):
        train(params)
    params["train"].update(init_from=paths[0], soup_with=[str(tmp_path / "missing.keras")])
    with pytest.raises(ParamsError, match="train.soup_with: '.*missing.keras' is not a .keras file"):
        train(params)


def test_saved_soup_is_the_train_stages_soup_with_every_ingredients_provenance(tmp_path):
    data = random_splits(tmp_path / "processed", {"train": 96, "val": 40}, seed=5)
    paths = warm_restarts(tmp_path, seed=5)
    (tmp_path / "ingredient2.json").write_text(json.dumps({"device": "NVIDIA H200", "seed": 711}))
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["models"]["fer2013"]["train"].update(width=0.25, soup_batchnorm_images=64)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    (tmp_path / "data" / "fer2013").mkdir(parents=True)
    data.rename(tmp_path / "data" / "fer2013" / "processed")  # where the split stage writes, under the cwd
    data = tmp_path / "data" / "fer2013" / "processed"
    params = load_params(tmp_path / "params.yaml")
    out = tmp_path / "soups" / "soup.keras"

    cli = [sys.executable, "-m", "emoscan.training.fit.soup", str(out), *paths, "--model", "fer2013"]
    printed = run(cli, cwd=tmp_path).stdout
    assert f"{out}: soup of 3 networks, validation accuracy" in printed
    expected = warm_start(params["train"] | {"init_from": paths[0], "soup_with": paths[1:]},
                          np.load(data / "train.npz")["x"], normalize)
    saved = keras.saving.load_model(out, compile=False)
    for got, want in zip(saved.get_weights(), expected.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    origin = json.loads(out.with_suffix(".json").read_text())
    assert origin["role"] == "soup" and origin["init_from"] == paths[0]
    assert [i["path"] for i in origin["ingredients"]] == paths
    assert [i["provenance"] for i in origin["ingredients"]] == [None, None, {"device": "NVIDIA H200", "seed": 711}]
    assert origin["soup_batchnorm_images"] == 64 and 0.0 <= origin["val_accuracy"] <= 1.0
    assert origin["command"].startswith("python -m emoscan.training.fit.soup ") and paths[2] in origin["command"]

    out.unlink()
    refused = run([*cli[:4], paths[0], *cli[-2:]], check=False)
    assert refused.returncode != 0 and "a soup needs at least two networks" in refused.stderr
    assert not out.exists()


def test_a_saved_soups_training_curves_are_its_starting_points(tmp_path):
    from emoscan.training.fit.train import training_log_of

    start, soup, plain = (str(tmp_path / f"{n}.keras") for n in ("start", "soup", "plain"))
    (tmp_path / "soup.json").write_text(json.dumps({"role": "soup", "init_from": start}))
    assert training_log_of(soup) is None, "no log anywhere: none"
    (tmp_path / "start_log.csv").write_text("epoch,accuracy\n0,0.5\n")
    assert training_log_of(soup) == tmp_path / "start_log.csv"
    (tmp_path / "soup_log.csv").write_text("epoch,accuracy\n")
    assert training_log_of(soup) == tmp_path / "soup_log.csv", "its own log first"
    (tmp_path / "plain.json").write_text(json.dumps({"role": "members", "init_from": start}))
    assert training_log_of(plain) is None, "a warm restart's curves are not its start's"
