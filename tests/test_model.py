"""Evaluation maths against scikit-learn, flip TTA, and resume of an interrupted training run."""

from __future__ import annotations

import json

import keras
import numpy as np
import pandas as pd
import pytest
from conftest import random_splits, flat_params
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from emoscan.training.release.evaluate import evaluate_predictions
from emoscan.training.common.scoring import predict_probabilities


def test_metrics_match_scikit_learn(tmp_path):
    rng = np.random.default_rng(3)
    y_true = rng.integers(0, 7, 500)
    y_pred = np.where(rng.random(500) < 0.6, y_true, rng.integers(0, 7, 500))
    probs = np.eye(7)[y_pred] * 0.9 + 0.1 / 7
    metrics = evaluate_predictions(y_true, {"none": probs}, tmp_path)
    plain = metrics["plain"]
    assert plain["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))
    assert plain["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro"))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=range(7))
    assert [plain["per_class"][c]["precision"] for c in plain["per_class"]] == pytest.approx(p)
    assert [plain["per_class"][c]["recall"] for c in plain["per_class"]] == pytest.approx(r)
    assert [plain["per_class"][c]["f1-score"] for c in plain["per_class"]] == pytest.approx(f)
    assert [plain["per_class"][c]["support"] for c in plain["per_class"]] == list(s)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["accuracy"] == pytest.approx(plain["accuracy"]) and saved["test_images"] == 500
    predictions = pd.read_csv(tmp_path / "predictions.csv")
    assert (predictions["actual"] == predictions["predicted"]).mean() == pytest.approx(plain["accuracy"])
    assert (tmp_path / "confusion_matrix.png").stat().st_size > 10_000


def test_flip_tta_averages_the_mirrored_image():
    x = np.random.default_rng(0).integers(0, 255, (5, 48, 48), dtype=np.uint8)

    def left_brightness(batch):  # depends on which side is bright, so flipping changes it
        left = batch[:, :, :24, 0].mean(axis=(1, 2))
        return np.stack([left, 1 - left], axis=1)

    plain = predict_probabilities(left_brightness, x, "none")
    flipped = predict_probabilities(left_brightness, x[:, :, ::-1], "none")
    assert predict_probabilities(left_brightness, x, "flip") == pytest.approx((plain + flipped) / 2)


def test_no_images_score_as_many_classes_as_the_model_has():
    """The shipped FER+ bundle's classifier on an empty split: eight columns, not FER-2013's seven."""
    from emoscan.inference.bundle import SHIPPED_MODELS
    from emoscan.inference.classifier import EmotionClassifier

    classifier = EmotionClassifier(SHIPPED_MODELS["ferplus"])
    for tta in ("none", "flip"):
        assert predict_probabilities(classifier.predict, np.zeros((0, 48, 48), np.uint8), tta).shape == (0, 8)


@pytest.mark.slow
def test_interrupted_training_resumes_from_its_last_epoch(tmp_path, monkeypatch):
    import yaml

    from emoscan.training.fit import train as train_module

    data = random_splits(tmp_path / "processed", {"train": 96, "val": 32}, seed=0)
    params = flat_params()
    params["split"]["output_dir"] = str(data)
    params["train"].update(epochs=3, batch_size=32, output_dir=str(tmp_path / "train"),
                           log_dir=str(tmp_path / "logs"), early_stopping_patience=10)
    params["mlflow"]["tracking_uri"] = f"sqlite:///{tmp_path / 'mlflow.db'}"

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt("simulated crash after the second epoch")

    real_callbacks = train_module.make_callbacks
    monkeypatch.setattr(train_module, "make_callbacks", lambda cfg, out: real_callbacks(cfg, out) + [Interrupt()])
    with pytest.raises(KeyboardInterrupt):
        train_module.train(params)
    run_id = (tmp_path / "train" / "mlflow_run_id.txt").read_text()
    assert (tmp_path / "train" / "backup").exists()

    monkeypatch.setattr(train_module, "make_callbacks", real_callbacks)
    summary = train_module.train(params)
    log = pd.read_csv(tmp_path / "train" / "training_log.csv")
    assert list(log["epoch"]) == [0, 1, 2], "each epoch logged once: the rerun continued at epoch 2"
    assert summary["run_id"] == run_id, "the rerun continues the same MLflow run"
    assert summary["epochs_this_process"] == 1 and summary["epochs"] == 3
    assert not (tmp_path / "train" / "backup").exists()


@pytest.mark.slow
def test_snapshots_save_every_epochs_network_in_float32_under_mixed_precision(tmp_path):
    import yaml

    from emoscan.training.fit.train import train

    data = random_splits(tmp_path / "processed", {"train": 64, "val": 32}, seed=5, every_class=True)
    params = flat_params()
    params["split"]["output_dir"] = str(data)
    params["train"].update(epochs=2, batch_size=32, output_dir=str(tmp_path / "train"), log_dir=str(tmp_path / "logs"),
                           init_from="", soup_with=[], width=0.25, mixed_precision=True, snapshots=True)
    params["mlflow"]["tracking_uri"] = f"sqlite:///{tmp_path / 'mlflow.db'}"

    train(params)
    files = sorted((tmp_path / "train" / "snapshots").iterdir())
    assert [f.name for f in files] == ["epoch_01.keras", "epoch_02.keras"]
    snapshots = [keras.saving.load_model(f, compile=False) for f in files]
    assert all(layer.dtype_policy.name == "float32" for m in snapshots for layer in m.layers)
    weights = [m.get_weights() for m in snapshots]
    assert any(not np.array_equal(a, b) for a, b in zip(*weights)), "the second epoch changed the weights"
    saved = keras.saving.load_model(tmp_path / "train" / "model.keras", compile=False).get_weights()
    assert any(all(np.array_equal(a, b) for a, b in zip(saved, w)) for w in weights), \
        "the saved model is one of the trajectory's snapshots"

    params["train"].update(snapshots=False, output_dir=str(tmp_path / "plain"))
    train(params)
    assert not (tmp_path / "plain" / "snapshots").exists()


@pytest.mark.slow
def test_ensemble_with_committed_model_is_one_float32_model_and_one_onnx_graph(tmp_path):
    import yaml

    from emoscan.settings import ParamsError
    from emoscan.training.release.export import export_bundle
    from emoscan.training.fit.train import train

    rng = np.random.default_rng(1)
    data = random_splits(tmp_path / "processed", {"train": 64, "val": 32}, seed=1)
    member_file = "models/warm_start/emoscan_vgg_v10_sgd_lr04_a.keras"
    params = flat_params()
    params["split"]["output_dir"] = str(data)
    params["train"].update(epochs=1, batch_size=32, output_dir=str(tmp_path / "train"), log_dir=str(tmp_path / "logs"),
                           init_from="", soup_with=[], width=1.0, mixed_precision=True,
                           ensemble_with=[member_file])
    params["mlflow"]["tracking_uri"] = f"sqlite:///{tmp_path / 'mlflow.db'}"

    summary = train(params)
    saved = keras.saving.load_model(tmp_path / "train" / "model.keras", compile=False)
    assert saved.name == "ensemble" and len(saved.layers) == 4  # input, two members, average
    assert all(layer.dtype_policy.name == "float32" for m in saved.layers[1:3] for layer in m.layers)
    x = rng.random((6, 48, 48, 1), dtype=np.float32)
    trained, member = saved.layers[1], keras.saving.load_model(member_file, compile=False)
    expected = (np.asarray(trained(x)) + np.asarray(member(x))) / 2
    np.testing.assert_allclose(np.asarray(saved(x)), expected, atol=1e-6)
    assert 0 <= summary["ensemble_val_accuracy"] <= 1 and summary["ensemble_with"] == [member_file]
    report = export_bundle(saved, tmp_path / "export", rng.integers(0, 255, (8, 48, 48), dtype=np.uint8), 1e-4)
    assert report["max_abs_diff"] < 1e-4

    params["train"]["ensemble_with"] = ["models/warm_start/missing.keras"]
    with pytest.raises(ParamsError, match="train.ensemble_with: 'models/warm_start/missing.keras'"):
        train(params)


def test_zero_epochs_assembles_networks_trained_elsewhere_without_training(tmp_path, monkeypatch):
    """`train.epochs: 0`: the init_from network (here with a GPU-style training log and provenance
    file beside it) averaged with ensemble_with, saved unchanged and logged as one MLflow run."""
    import mlflow
    import yaml

    from emoscan.settings import ParamsError
    from emoscan.training.nets.architectures import build_model
    from emoscan.training.fit.train import train

    rng = np.random.default_rng(2)
    data = random_splits(tmp_path / "processed", {"val": 40}, seed=2)
    members = tmp_path / "members"
    members.mkdir()
    paths = []
    for i in range(2):
        keras.utils.set_random_seed(i)
        net = build_model("emoscan_vgg", width=0.25)
        net.save(members / f"m{i}.keras")
        paths.append(str(members / f"m{i}.keras"))
    pd.DataFrame({"epoch": [0, 1, 2], "accuracy": [0.3, 0.5, 0.6], "learning_rate": [0.1, 0.05, 0.0],
                  "loss": [1.8, 1.4, 1.2], "val_accuracy": [0.3, 0.45, 0.5], "val_loss": [1.8, 1.5, 1.4]}
                 ).to_csv(members / "m0_log.csv", index=False)
    (members / "m0.json").write_text(json.dumps({"device": "NVIDIA H200", "epochs": 3}))
    params = flat_params()
    params["split"]["output_dir"] = str(data)
    params["train"].update(epochs=0, init_from=paths[0], soup_with=[], ensemble_with=[paths[1]], distill_from=[],
                           output_dir=str(tmp_path / "train"), log_dir=str(tmp_path / "logs"))
    params["mlflow"]["tracking_uri"] = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)  # exported by mlflow.set_tracking_uri in earlier tests

    summary = train(params)
    out = tmp_path / "train"
    saved = keras.saving.load_model(out / "model.keras", compile=False)
    x = rng.random((4, 48, 48, 1), dtype=np.float32)
    loaded = [keras.saving.load_model(p, compile=False) for p in paths]
    np.testing.assert_allclose(np.asarray(saved(x)), (np.asarray(loaded[0](x)) + np.asarray(loaded[1](x))) / 2,
                               atol=1e-6, err_msg="the members' weights are saved untouched, averaged")
    assert summary["epochs"] == 0 and 0 <= summary["best_val_accuracy"] <= 1
    assert list(pd.read_csv(out / "training_log.csv")["val_accuracy"]) == [0.3, 0.45, 0.5]
    assert (out / "training_plot.png").stat().st_size > 10_000
    mlflow.set_tracking_uri(params["mlflow"]["tracking_uri"])
    run = mlflow.get_run(summary["run_id"])
    assert run.data.params["train.epochs"] == "0" and run.data.tags["trained_here"] == "false"
    logged = {a.path for a in mlflow.MlflowClient().list_artifacts(summary["run_id"], "members")}
    assert logged == {"members/m0.json", "members/m0_log.csv"}

    (members / "m0_log.csv").unlink()  # a network that came without its training log
    train(params)
    assert pd.read_csv(out / "training_log.csv").empty and (out / "training_plot.png").is_file()

    params["train"]["init_from"] = ""
    with pytest.raises(ParamsError, match="train.epochs: 0 .* needs train.init_from"):
        train(params)


def test_the_compact_network_is_small_trains_and_exports_to_int8_that_no_cpu_saturates(tmp_path):
    """emoscan_compact: under 1M parameters (0.4M at width 1), eight FER+ outputs, a train step
    lowers the loss, and its int8 graph is under 2 MB with every weight within ±64."""
    from emoscan.training.nets.architectures import build_model
    from emoscan.training.release.export import export_bundle
    from emoscan.training.release.quantize import SATURATION_FREE_WEIGHT, quantize_int8, signed_weight_peak

    keras.utils.set_random_seed(3)
    net = build_model("emoscan_compact", 48, 8, width=1.0)
    assert 200_000 < net.count_params() < 1_000_000 and net.output_shape == (None, 8)
    assert any(isinstance(layer, keras.layers.SeparableConv2D) for layer in net.layers)
    rng = np.random.default_rng(3)
    x = rng.integers(0, 255, (64, 48, 48), dtype=np.uint8)
    y = np.eye(8, dtype=np.float32)[rng.integers(0, 8, 64)]
    net.compile(optimizer=keras.optimizers.Adam(0.003), loss="categorical_crossentropy")
    losses = net.fit(x[..., None] / 255.0, y, epochs=4, batch_size=32, verbose=0).history["loss"]
    assert losses[-1] < losses[0]
    export_bundle(net, tmp_path, x[:8], 1e-4, onnx_file="fp32.onnx")
    quantize_int8(tmp_path / "fp32.onnx", tmp_path / "int8.onnx", x[..., None].astype(np.float32) / 255.0)
    assert (tmp_path / "int8.onnx").stat().st_size < 2_000_000
    assert 0 < signed_weight_peak(tmp_path / "int8.onnx") <= SATURATION_FREE_WEIGHT
