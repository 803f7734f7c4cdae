"""Knowledge distillation targets, augmentation, the time-budgeted schedule and the accelerated
(any-backend) trainer, on real Keras models and small arrays."""

from __future__ import annotations

import json

import keras
import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import record_training_targets, random_splits, flat_params

from emoscan.training.nets.architectures import build_model
from emoscan.training.common.scoring import predict_probabilities
from emoscan.training.fit.recipe import soft_targets


@pytest.fixture(scope="module")
def teacher() -> keras.Model:
    return keras.saving.load_model("models/warm_start/emoscan_vgg_v10_sgd_lr04_a.keras", compile=False)


@pytest.fixture()
def arrays(tmp_path):
    return random_splits(tmp_path / "processed", {"train": 64, "val": 32}, seed=3, every_class=True)


def test_distillation_targets_mix_labels_with_the_teachers_flip_averaged_probabilities(teacher):
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 255, (20, 48, 48), dtype=np.uint8), rng.integers(0, 7, 20)
    teacher_probs = predict_probabilities(lambda b: np.asarray(teacher(b)), x, "flip")

    np.testing.assert_allclose(soft_targets(teacher, x, y, alpha=1.0, temperature=2.0), np.eye(7)[y], atol=1e-6)
    np.testing.assert_allclose(soft_targets(teacher, x, y, alpha=0.0, temperature=1.0), teacher_probs, atol=1e-5)
    mixed = soft_targets(teacher, x, y, alpha=0.3, temperature=2.0)
    np.testing.assert_allclose(mixed.sum(axis=1), 1.0, atol=1e-5)
    assert (mixed[np.arange(20), y] >= 0.3).all()

    def entropy(p):
        return float(-(p * np.log(np.clip(p, 1e-12, 1))).sum(axis=1).mean())

    hot, soft = (soft_targets(teacher, x, y, 0.0, t) for t in (1.0, 4.0))
    assert entropy(soft) > entropy(hot), "a higher temperature softens the teacher's distribution"


def test_distillation_mixes_the_teacher_with_vote_distributions_as_they_are(teacher):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 255, (12, 48, 48), dtype=np.uint8)
    votes = rng.dirichlet(np.ones(7), 12).astype(np.float32)  # FER+-like soft labels, one row per face
    teacher_probs = predict_probabilities(lambda b: np.asarray(teacher(b)), x, "flip")

    np.testing.assert_allclose(soft_targets(teacher, x, votes, alpha=1.0, temperature=1.0), votes, atol=1e-6)
    np.testing.assert_allclose(soft_targets(teacher, x, votes, alpha=0.5, temperature=1.0),
                               0.5 * votes + 0.5 * teacher_probs, atol=1e-5)


def test_teacher_probabilities_are_kept_by_digest_and_read_back(teacher, tmp_path, monkeypatch):
    """A second run over the same teacher files and images reads the cached probabilities (no model
    is loaded); other images, or another teacher file, miss the cache."""
    from emoscan.training.fit import recipe

    rng = np.random.default_rng(2)
    x, y = rng.integers(0, 255, (16, 48, 48), dtype=np.uint8), rng.integers(0, 7, 16)
    path = "models/warm_start/emoscan_vgg_v10_sgd_lr04_a.keras"
    first = recipe.teacher_targets([path], x, y, 0.3, 2.0, 48, tmp_path / "cache")
    np.testing.assert_allclose(first, soft_targets(teacher, x, y, 0.3, 2.0), atol=1e-5)
    (cached,) = (tmp_path / "cache").glob("teachers-*.npy")

    def no_loading(*args, **kwargs):
        raise AssertionError("the teacher was loaded although its probabilities are cached")

    monkeypatch.setattr(recipe.keras.saving, "load_model", no_loading)
    np.testing.assert_array_equal(recipe.teacher_targets([path], x, y, 0.3, 2.0, 48, tmp_path / "cache"), first)
    np.testing.assert_allclose(recipe.teacher_targets([path], x, y, 1.0, 2.0, 48, tmp_path / "cache"), np.eye(7)[y],
                               atol=1e-6)  # the mix is applied after the cache
    with pytest.raises(AssertionError, match="although"):
        recipe.teacher_targets([path], x[::-1].copy(), y, 0.3, 2.0, 48, tmp_path / "cache")
    with pytest.raises(AssertionError, match="although"):
        recipe.teacher_targets([path, path], x, y, 0.3, 2.0, 48, tmp_path / "cache")
    assert cached.stat().st_size > 0 and not list((tmp_path / "cache").glob("*.tmp.npy"))


@pytest.mark.parametrize("with_votes", [False, True], ids=["labels", "vote distributions"])
def test_train_stage_fits_the_soft_targets_and_names_a_missing_teacher(tmp_path, arrays, monkeypatch, teacher,
                                                                      with_votes):
    """The teachers are mixed with the one-hot labels, or with the split's vote distributions
    (FER+'s `targets`) where it has them."""
    from emoscan.settings import ParamsError
    from emoscan.training.fit import train as train_module

    if with_votes:
        with np.load(arrays / "train.npz") as data:
            x, y = data["x"], data["y"]
        votes = np.random.default_rng(5).dirichlet(np.ones(7), len(y)).astype(np.float32)
        np.savez(arrays / "train.npz", x=x, y=votes.argmax(axis=1), targets=votes)

    params = flat_params()
    params["split"]["output_dir"] = str(arrays)
    params["train"].update(epochs=1, batch_size=32, output_dir=str(tmp_path / "train"), log_dir=str(tmp_path / "logs"),
                           init_from="", soup_with=[], width=1.0, ensemble_with=[],
                           distill_from=["models/warm_start/emoscan_vgg_v10_sgd_lr04_a.keras"],
                           distill_alpha=0.4, distill_temperature=2.0)
    params["mlflow"]["tracking_uri"] = f"sqlite:///{tmp_path / 'mlflow.db'}"
    seen = record_training_targets(monkeypatch)
    train_module.train(params)
    with np.load(arrays / "train.npz") as data:
        x, labels = data["x"], data["targets"] if with_votes else data["y"]
    # the only teacher averaged alone is itself
    np.testing.assert_allclose(seen["targets"], soft_targets(teacher, x, labels, 0.4, 2.0), atol=1e-5)

    params["train"]["distill_from"] = ["models/warm_start/missing.keras"]
    with pytest.raises(ParamsError, match="train.distill_from: 'models/warm_start/missing.keras'"):
        train_module.train(params)


def test_augmenter_keeps_the_input_range_and_is_identity_at_inference():
    from emoscan.training.nets.augment import build_augmenter

    cfg = flat_params()["train"]["augment"] | {"random_erasing": 1.0}
    augment = build_augmenter(cfg, seed=1)
    x = np.random.default_rng(2).random((32, 48, 48, 1), dtype=np.float32)
    out = keras.ops.convert_to_numpy(augment(x, training=True))
    assert out.shape == x.shape and out.min() >= 0.0 and out.max() <= 1.0
    assert not np.allclose(out, x)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(augment(x, training=False)), x)


def test_budget_cosine_warms_up_then_anneals_to_zero_over_the_epochs_that_fit():
    from emoscan.training.fit.accelerated import BudgetCosine

    schedule = BudgetCosine(peak_lr=0.1, max_epochs=10, warmup_epochs=2, budget_s=60, started=0.0)
    assert [round(schedule.learning_rate(e), 4) for e in (0, 1)] == [0.05, 0.1]
    rates = [schedule.learning_rate(e) for e in range(2, 10)]
    assert all(a > b for a, b in zip(rates, rates[1:])) and rates[0] < 0.1
    assert rates[-1] == pytest.approx(0.5 * 0.1 * (1 + np.cos(np.pi * 7.5 / 8)))
    schedule.total = 6  # fewer epochs fit: the same anneal, compressed
    assert schedule.learning_rate(5) == pytest.approx(0.5 * 0.1 * (1 + np.cos(np.pi * 3.5 / 4)))


@pytest.mark.slow
def test_accelerated_trainer_fits_members_and_a_distilled_student_within_budget(tmp_path, arrays):
    from emoscan.settings import ParamsError
    from emoscan.training.fit.accelerated import fit, student_teachers

    params = flat_params()
    params["accelerated"] = {
        "data_dir": str(arrays), "output_dir": str(tmp_path / "out"),
        "time_budget_minutes": {"members": 0.01, "students": 10},
        "members": {"m": {"epochs": 50, "batch_size": 32, "mixed_precision": True, "seed": 1}},
        "students": {"s": {"epochs": 4, "batch_size": 32, "width": 0.5, "distill_alpha": 0.5, "seed": 2}},
    }
    member = fit(params, "members", "m")
    assert member["epochs"] == 3, "a budget too small for more stops after warm-up + one annealed epoch"
    log = pd.read_csv(tmp_path / "out" / "m_log.csv")
    assert len(log) == 3 and log["learning_rate"].iloc[-1] < log["learning_rate"].max()
    saved = keras.saving.load_model(tmp_path / "out" / "m.keras", compile=False)
    assert all(layer.dtype_policy.name == "float32" for layer in saved.layers)
    x_val = np.load(arrays / "val.npz")["x"][..., None].astype("float32") / 255.0
    val_accuracy = float((np.asarray(saved(x_val)).argmax(1) == np.load(arrays / "val.npz")["y"]).mean())
    assert member["val_accuracy"] == pytest.approx(val_accuracy)
    assert json.loads((tmp_path / "out" / "m.json").read_text())["keras_backend"] == keras.backend.backend()

    student = fit(params, "students", "s", teachers=[str(tmp_path / "out" / "m.keras")])
    assert student["epochs"] == 4 and student["distill"] == {"alpha": 0.5, "temperature": 2.0, "mode": "online"}
    saved_student = keras.saving.load_model(tmp_path / "out" / "s.keras", compile=False)
    assert saved_student.output_shape == (None, 7), "the student alone is saved, not the trainer with its teachers"
    assert student["params"] < member["params"], "width 0.5 builds the narrower network"

    with pytest.raises(ParamsError, match="accelerated.members: no run 'x'"):
        fit(params, "members", "x")

    # distillation none: a student is a warm restart of a member of the same call, without teachers
    params["accelerated"]["distillation"] = "none"
    params["accelerated"]["students"]["r"] = {"init_from": str(tmp_path / "out" / "m.keras"), "epochs": 2,
                                              "batch_size": 32, "seed": 3}
    restart = fit(params, "students", "r", teachers=student_teachers(params["accelerated"]))
    assert restart["epochs"] == 2 and restart["teachers"] == [] and restart["distill"] is None
    params["accelerated"]["distillation"] = "offine"
    with pytest.raises(ParamsError, match="expected none, online or offline"):
        fit(params, "students", "r", teachers=[str(tmp_path / "out" / "m.keras")])
    assert keras.mixed_precision.global_policy().name == "float32", "a refused run changes nothing"


@pytest.mark.slow
def test_accelerated_trainer_learns_vote_distributions_from_a_warm_start_of_other_classes(tmp_path, monkeypatch):
    """FER+ on the accelerated trainer: the classes come from the params file, the split's vote
    distributions are the targets, and a FER-2013 network's classifier starts the eight columns by
    class name (contempt, which FER-2013 lacks, from the mean column)."""
    from emoscan.labels import CLASSES
    from emoscan.settings import load_params
    from emoscan.training.fit.accelerated import fit

    params = load_params("params.yaml", model="ferplus")
    classes = params["classes"]
    rng = np.random.default_rng(8)
    data = tmp_path / "processed"
    data.mkdir()
    votes = rng.dirichlet(np.ones(len(classes)), 48).astype(np.float32)
    np.savez(data / "train.npz", x=rng.integers(0, 255, (48, 48, 48), dtype=np.uint8), y=votes.argmax(1), targets=votes)
    np.savez(data / "val.npz", x=rng.integers(0, 255, (16, 48, 48), dtype=np.uint8), y=np.arange(16) % len(classes))
    start = "models/warm_start/emoscan_vgg_v10_sgd_lr04_a.keras"  # FER-2013's seven classes, width 1.0
    # a learning rate too small to move the weights: the saved classifier is the mapped warm start
    params["accelerated"] = {
        "data_dir": str(data), "output_dir": str(tmp_path / "out"), "time_budget_minutes": {"members": 10},
        "members": {"m": {"init_from": start, "width": 1.0, "epochs": 2, "batch_size": 16,
                          "learning_rate": 1e-7, "mixed_precision": False, "seed": 4}}}
    seen = {}
    real_fit = keras.Model.fit

    def recording_fit(self, x=None, y=None, *args, **kwargs):
        seen["targets"] = y
        return real_fit(self, x, y, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", recording_fit)
    member = fit(params, "members", "m")
    np.testing.assert_allclose(seen["targets"], votes)
    assert member["classes"] == classes and member["targets"] == "votes"
    saved = keras.saving.load_model(tmp_path / "out" / "m.keras", compile=False)
    assert saved.output_shape == (None, len(classes))
    kernel, bias = keras.saving.load_model(start, compile=False).get_weights()[-2:]
    saved_kernel, saved_bias = saved.get_weights()[-2:]
    for index, name in enumerate(classes):
        expected = kernel[:, CLASSES.index(name)] if name in CLASSES else kernel.mean(axis=1)
        np.testing.assert_allclose(saved_kernel[:, index], expected, atol=1e-4, err_msg=name)
    assert saved_bias[classes.index("contempt")] == pytest.approx(bias.min(), abs=1e-4)


def test_fused_affine_resampling_matches_known_transforms():
    from emoscan.training.nets.affine import affine_resample

    rng = np.random.default_rng(4)
    x = rng.random((3, 48, 48, 1), dtype=np.float32)
    one, zero = np.ones(3, np.float32), np.zeros(3, np.float32)

    def resample(a, b, c, d, tx, ty):
        return keras.ops.convert_to_numpy(affine_resample(x, a * one, b * one, c * one, d * one, tx * one, ty * one))

    np.testing.assert_allclose(resample(1, 0, 0, 1, 0, 0), x, atol=1e-6)
    np.testing.assert_allclose(resample(-1, 0, 0, 1, 0, 0), x[:, :, ::-1], atol=1e-6)  # mirror
    shifted = resample(1, 0, 0, 1, 3, 0)  # reads 3 px to the right; the last column repeats at the edge
    np.testing.assert_allclose(shifted[:, :, :45], x[:, :, 3:], atol=1e-6)
    np.testing.assert_allclose(shifted[:, :, 45:], np.repeat(x[:, :, 47:], 3, axis=2), atol=1e-6)
    half = resample(1, 0, 0, 1, 0.5, 0)  # half a pixel: the mean of neighbours
    np.testing.assert_allclose(half[:, :, :47], (x[:, :, :47] + x[:, :, 1:]) / 2, atol=1e-6)
    rotated = resample(0, -1, 1, 0, 0, 0)  # a quarter turn of a square image
    np.testing.assert_allclose(rotated, np.rot90(x, k=1, axes=(1, 2)), atol=1e-5)


def test_fused_augmenter_is_random_in_range_and_identity_at_inference():
    from emoscan.training.nets.augment import build_fused_augmenter

    cfg = flat_params()["train"]["augment"]
    augment = build_fused_augmenter(cfg, seed=5)
    x = np.random.default_rng(6).random((16, 48, 48, 1), dtype=np.float32)
    first, second = (keras.ops.convert_to_numpy(augment(x, training=True)) for _ in range(2))
    assert first.shape == x.shape and 0.0 <= first.min() and first.max() <= 1.0
    assert not np.allclose(first, x) and not np.allclose(first, second), "a new draw every call"
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(augment(x, training=False)), x)


def test_train_stage_batches_resample_once_with_fused_affine():
    """The train stage's tf.data batches: four Keras resamplings blur a face far more than one
    fused resampling (mean horizontal gradient of noise images), so `fused_affine` must reach them."""
    from emoscan.training.nets.augment import make_dataset

    cfg = flat_params()["train"]["augment"] | {"random_erasing": 0.0, "horizontal_flip": False}
    assert cfg["fused_affine"] is True, "params.yaml trains with one resampling"
    x, y = np.random.default_rng(4).integers(0, 256, (64, 48, 48), dtype=np.uint8), np.arange(64) % 7

    def sharpness(fused: bool) -> float:
        batch = next(iter(make_dataset(x, y, 64, 7, training=True, augment_cfg=cfg | {"fused_affine": fused}, seed=3)))
        return float(np.abs(np.diff(batch[0].numpy(), axis=2)).mean())

    fused, layers = sharpness(True), sharpness(False)
    assert fused > 2 * layers, (fused, layers)
    assert fused < float(np.abs(np.diff(x / 255.0, axis=2)).mean()), "still augmented"


def test_augmenter_with_every_transform_off_is_the_identity():
    from emoscan.training.nets.augment import build_training_augmenter

    off = {"rotation": 0.0, "shear": 0.0, "zoom": 0.0, "shift": 0.0, "horizontal_flip": False, "random_erasing": 0.0}
    x = np.random.default_rng(7).random((4, 48, 48, 1), dtype=np.float32)
    for fused in (False, True):
        out = keras.ops.convert_to_numpy(build_training_augmenter(off | {"fused_affine": fused}, seed=1)(x, training=True))
        np.testing.assert_allclose(out, x, atol=1e-5)


def test_photometric_augmentation_changes_the_look_in_range_in_both_augmenters():
    from emoscan.training.nets.augment import build_training_augmenter

    off = {"rotation": 0.0, "shear": 0.0, "zoom": 0.0, "shift": 0.0, "horizontal_flip": False, "random_erasing": 0.0}
    x = np.random.default_rng(8).random((16, 48, 48, 1), dtype=np.float32) * 0.5 + 0.25
    for key, value in (("brightness", 0.2), ("contrast", 0.4), ("blur", 1.0), ("noise", 0.05)):
        for fused in (False, True):
            augment = build_training_augmenter(off | {"fused_affine": fused, key: value}, seed=2)
            out = keras.ops.convert_to_numpy(augment(x, training=True))
            assert out.shape == x.shape
            assert float(np.abs(out - x).mean()) > 0.005, f"{key} changed nothing"
            if key == "blur":  # blurring lowers the difference between neighbouring pixels
                assert np.abs(np.diff(out, axis=2)).mean() < np.abs(np.diff(x, axis=2)).mean()
            if key != "noise":
                assert out.min() >= 0.0 and out.max() <= 1.0
            np.testing.assert_allclose(keras.ops.convert_to_numpy(augment(x, training=False)), x, atol=1e-6)


def test_photometric_augmentation_params_are_checked():
    from emoscan.settings import ParamsError
    from emoscan.training.fit.recipe import check_train_params

    cfg = flat_params()["train"]
    for key, bad, message in (("blur", 1.5, "train.augment.blur"), ("contrast", "high", "train.augment.contrast"),
                              ("blur_sigma", 0.1, "train.augment.blur_sigma")):
        trial = cfg | {"augment": cfg["augment"] | {key: bad}}
        with pytest.raises(ParamsError, match=message):
            check_train_params(trial)


def test_train_params_need_the_fused_affine_choice():
    from emoscan.settings import ParamsError
    from emoscan.training.fit.recipe import check_train_params

    cfg = flat_params()["train"]
    check_train_params(cfg)
    cfg["augment"] = {k: v for k, v in cfg["augment"].items() if k != "fused_affine"}
    with pytest.raises(ParamsError, match="train.augment.fused_affine: missing"):
        check_train_params(cfg)


def test_budget_cosine_lowers_the_epoch_count_when_epochs_slow_down(monkeypatch):
    from emoscan.training.fit import accelerated

    clock = {"now": 0.0}
    monkeypatch.setattr(accelerated.time, "time", lambda: clock["now"])
    schedule = accelerated.BudgetCosine(peak_lr=0.1, max_epochs=100, warmup_epochs=2, budget_s=100, started=0.0)
    schedule.set_model(type("M", (), {"stop_training": False, "optimizer": type("O", (), {})()})())

    def epoch(i, seconds):
        schedule.on_epoch_begin(i)
        clock["now"] += seconds
        schedule.on_epoch_end(i, {})

    epoch(0, 10.0)  # compiles; not timed
    epoch(1, 1.0)
    assert schedule.total == 2 + int(89 / 1.05), "the count set after warm-up from 1 s epochs"
    set_after_warmup = schedule.total
    for i in range(2, 6):
        epoch(i, 1.0)
    assert schedule.total == set_after_warmup, "steady epochs keep the count"
    i = 6
    while not schedule.model.stop_training:
        epoch(i, 5.0)  # another run starts sharing the device: epochs five times slower
        i += 1
    assert i < set_after_warmup and clock["now"] <= 100 * 1.1, "the run ends near its budget, not at the old count"


def test_online_distillation_loss_is_label_cross_entropy_plus_softened_kl_to_the_teacher():
    from emoscan.training.fit.accelerated import OnlineDistillation
    from emoscan.training.fit.recipe import prediction_accuracy

    rng = np.random.default_rng(0)
    student, teacher = rng.dirichlet(np.ones(7), 5).astype("float32"), rng.dirichlet(np.ones(7), 5).astype("float32")
    labels = np.eye(7, dtype="float32")[rng.integers(0, 7, 5)]
    y_pred = np.concatenate([student, teacher], axis=1)

    def loss(alpha, temperature, smoothing=0.0):
        fn = OnlineDistillation(7, alpha, temperature, smoothing, reduction=None)
        return keras.ops.convert_to_numpy(fn(labels, y_pred))

    ce = -(labels * np.log(student)).sum(axis=1)
    np.testing.assert_allclose(loss(1.0, 2.0), ce, rtol=1e-5)  # alpha 1: the labels alone

    def soften(p, t):
        q = np.power(p, 1 / t)
        return q / q.sum(axis=1, keepdims=True)

    t = 2.0
    kl = (soften(teacher, t) * (np.log(soften(teacher, t)) - np.log(soften(student, t)))).sum(axis=1)
    np.testing.assert_allclose(loss(0.0, t), t ** 2 * kl, rtol=1e-4)  # alpha 0: the teacher alone
    np.testing.assert_allclose(loss(0.3, t), 0.3 * ce + 0.7 * t ** 2 * kl, rtol=1e-4)
    same = OnlineDistillation(7, 0.0, 2.0, reduction=None)(labels, np.concatenate([student, student], axis=1))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(same), 0.0, atol=1e-5)  # matching the teacher costs nothing

    metric = prediction_accuracy()
    metric.update_state(labels, np.concatenate([labels, 1 - labels], axis=1))  # teacher columns all wrong
    assert float(metric.result()) == 1.0, "accuracy reads the student's columns only"


def test_students_learn_from_listed_teachers_or_else_the_trained_members(tmp_path):
    from emoscan.settings import ParamsError
    from emoscan.training.fit.accelerated import student_teachers

    (tmp_path / "m1.keras").write_bytes(b"stand-in")  # only the paths are read here
    acc = {"output_dir": str(tmp_path), "members": {"m1": {}, "m2": {}}, "teachers": []}
    assert student_teachers(acc) == [str(tmp_path / "m1.keras")], "members that finished, in order"
    listed = tmp_path / "committed.keras"
    listed.write_bytes(b"stand-in")
    assert student_teachers({**acc, "teachers": [str(listed)]}) == [str(listed)], "the list wins"
    with pytest.raises(ParamsError, match="no such file"):
        student_teachers({**acc, "teachers": [str(tmp_path / "absent.keras")]})
    with pytest.raises(ParamsError, match="expected a list"):
        student_teachers({**acc, "teachers": str(listed)})
    with pytest.raises(ParamsError, match="need teachers"):
        student_teachers({**acc, "members": {"m2": {}}})
    assert student_teachers({**acc, "distillation": "none"}) is None, "warm restarts learn from labels alone"


def test_mixup_mixes_each_image_and_its_target_with_the_same_partner_and_weight():
    from emoscan.training.nets.mixup import MixUp

    # image i is constant at value i / 10 and its target is class i, so a mixed target's weights
    # must rebuild the mixed image's value exactly
    values = np.arange(7, dtype="float32") / 10
    images = np.broadcast_to(values[:, None, None, None], (7, 48, 48, 1)).copy()
    targets = np.eye(7, dtype="float32")
    layer = MixUp(alpha=1.0, seed=4)
    mixed_images, mixed_targets = (keras.ops.convert_to_numpy(t) for t in layer((images, targets), training=True))
    np.testing.assert_allclose(mixed_targets.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(mixed_images[:, 0, 0, 0], mixed_targets @ values, atol=1e-6)
    np.testing.assert_allclose(mixed_images.std(axis=(1, 2, 3)), 0.0, atol=1e-6)  # one weight per image
    assert not np.allclose(mixed_targets, targets), "training mixes"
    assert (np.count_nonzero(mixed_targets > 1e-6, axis=1) <= 2).all(), "each image with one partner"
    again = keras.ops.convert_to_numpy(layer((images, targets), training=True)[1])
    assert not np.allclose(again, mixed_targets), "a new draw every batch"
    kept = layer((images, targets), training=False)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(kept[0]), images)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(kept[1]), targets)


def test_mixed_target_cross_entropy_scores_the_probabilities_against_the_packed_target():
    from emoscan.training.nets.mixup import MixedTargetCrossEntropy

    rng = np.random.default_rng(1)
    probs, mixed = rng.dirichlet(np.ones(7), 4).astype("float32"), rng.dirichlet(np.ones(7), 4).astype("float32")
    unmixed = np.eye(7, dtype="float32")[[0, 1, 2, 3]]
    loss = MixedTargetCrossEntropy(7, reduction=None)(unmixed, np.concatenate([probs, mixed], axis=1))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loss), -(mixed * np.log(probs)).sum(axis=1), rtol=1e-5)
    smoothed = MixedTargetCrossEntropy(7, label_smoothing=0.1, reduction=None)(unmixed, np.concatenate([probs, mixed], 1))
    target = mixed * 0.9 + 0.1 / 7
    np.testing.assert_allclose(keras.ops.convert_to_numpy(smoothed), -(target * np.log(probs)).sum(axis=1), rtol=1e-5)


@pytest.mark.slow
def test_mixup_trains_in_both_trainers_and_saves_the_network_alone(tmp_path, arrays):
    from emoscan.settings import ParamsError
    from emoscan.training.fit import train as train_module
    from emoscan.training.fit.accelerated import fit

    params = flat_params()
    params["train"]["mixup_alpha"] = 0.4
    params["accelerated"] = {
        "data_dir": str(arrays), "output_dir": str(tmp_path / "out"), "time_budget_minutes": {"members": 10, "students": 10},
        "members": {"m": {"epochs": 3, "batch_size": 32, "mixed_precision": True, "seed": 1}},
        "students": {"s": {"epochs": 3, "batch_size": 32}},
    }
    member = fit(params, "members", "m")
    assert member["epochs"] == 3
    saved = keras.saving.load_model(tmp_path / "out" / "m.keras", compile=False)
    assert saved.output_shape == (None, 7) and len(saved.inputs) == 1, "the network alone, not the mixup trainer"
    with pytest.raises(ParamsError, match="mixup_alpha with online distillation"):
        fit(params, "students", "s", teachers=[str(tmp_path / "out" / "m.keras")])

    params["split"]["output_dir"] = str(arrays)
    params["train"].update(epochs=2, batch_size=32, output_dir=str(tmp_path / "train"), log_dir=str(tmp_path / "logs"),
                           init_from="", soup_with=[], width=1.0, ensemble_with=[], distill_from=[])
    params["mlflow"]["tracking_uri"] = f"sqlite:///{tmp_path / 'mlflow.db'}"
    summary = train_module.train(params)
    assert summary["epochs"] == 2
    network = keras.saving.load_model(tmp_path / "train" / "model.keras", compile=False)
    assert network.output_shape == (None, 7) and len(network.inputs) == 1
    log = pd.read_csv(tmp_path / "train" / "training_log.csv")
    assert {"accuracy", "val_accuracy", "loss", "val_loss"} <= set(log.columns)

    params["train"]["mixup_alpha"] = -1
    with pytest.raises(ParamsError, match="train.mixup_alpha"):
        train_module.train(params)


def test_accelerated_runs_refuse_snapshots_and_do_not_inherit_the_train_stages():
    from emoscan.settings import ParamsError
    from emoscan.training.fit.accelerated import run_config

    params = flat_params()
    params["train"]["snapshots"] = True  # a CPU train-stage setting, like its ensemble_with and distill_from
    params["accelerated"]["members"] = {"a": {"epochs": 10}, "b": {"epochs": 10, "snapshots": True}}
    assert run_config(params, "members", "a")["snapshots"] is False
    with pytest.raises(ParamsError, match=r"accelerated\.members\.b: snapshots are saved by the CPU train stage only"):
        run_config(params, "members", "b")


@pytest.mark.parametrize("native, policy", [(True, "mixed_bfloat16"), (False, "float32")])
def test_mixed_precision_auto_computes_in_bfloat16_only_where_the_cpu_has_it(tmp_path, arrays, monkeypatch, caplog,
                                                                             native, policy):
    """`train.mixed_precision: auto` trains in bfloat16 on a CPU with AVX-512 BF16 or AMX and in
    float32 elsewhere (where bfloat16 is emulated); the log and train_summary.json say which."""
    import logging

    from emoscan import hardware
    from emoscan.training.fit import train as train_module

    flags = hardware.cpu_flags() - set(hardware.BFLOAT16_FLAGS) | ({"amx_bf16"} if native else set())
    monkeypatch.setattr(hardware, "cpu_flags", lambda: flags)
    params = flat_params()
    assert params["train"]["mixed_precision"] == "auto"
    params["split"]["output_dir"] = str(arrays)
    params["train"].update(epochs=1, batch_size=32, output_dir=str(tmp_path / "train"), log_dir=str(tmp_path / "logs"),
                           init_from="", soup_with=[], width=0.25, ensemble_with=[], distill_from=[])
    params["mlflow"]["tracking_uri"] = f"sqlite:///{tmp_path / 'mlflow.db'}"
    seen = {}
    real_fit = keras.Model.fit

    def recording_fit(model, *args, **kwargs):
        seen["policy"] = keras.mixed_precision.global_policy().name
        return real_fit(model, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", recording_fit)
    with caplog.at_level(logging.INFO, logger="emoscan.training.fit.train"):
        train_module.train(params)
    assert seen["policy"] == policy
    assert keras.mixed_precision.global_policy().name == "float32", "the saved model and what follows run float32"
    assert json.loads((tmp_path / "train" / "train_summary.json").read_text())["precision"] == policy
    assert f"train.mixed_precision auto: computing in {policy}" in caplog.text


def test_mixed_precision_takes_auto_true_or_false_and_names_the_key_otherwise():
    from emoscan.settings import ParamsError
    from emoscan.training.fit.recipe import check_train_params, compute_policy

    cfg = flat_params()["train"]
    for value in ("auto", True, False):
        check_train_params({**cfg, "mixed_precision": value})
    assert compute_policy(True) == "mixed_bfloat16" and compute_policy(False) == "float32"
    assert compute_policy("auto", accelerator=True) == "mixed_bfloat16"
    with pytest.raises(ParamsError, match="train.mixed_precision: expected auto, true or false, got 'bf16'"):
        check_train_params({**cfg, "mixed_precision": "bf16"})


def test_generalized_crossentropy_is_crossentropy_near_q_0_and_bounded_at_q_1():
    from emoscan.training.nets.losses import GeneralizedCrossEntropy, training_loss

    probs = np.array([[0.7, 0.2, 0.1], [0.001, 0.001, 0.998]], np.float32)
    labels = np.eye(3, dtype=np.float32)[[0, 0]]
    crossentropy = keras.losses.categorical_crossentropy(labels, probs).numpy()
    near_zero = GeneralizedCrossEntropy(q=1e-4)(labels, probs, sample_weight=np.array([1.0, 0.0])).numpy() * 2
    np.testing.assert_allclose(near_zero, crossentropy[0], rtol=1e-3)
    # q = 1: the mean absolute error, at most 1 for a face however confidently the network contradicts its label
    mae = [float(GeneralizedCrossEntropy(q=1.0)(labels[i:i + 1], probs[i:i + 1])) for i in range(2)]
    np.testing.assert_allclose(mae, [0.3, 0.999], rtol=1e-5)
    assert crossentropy[1] > 6
    smoothed = GeneralizedCrossEntropy(q=1.0, label_smoothing=0.3)(labels[:1], probs[:1])
    np.testing.assert_allclose(float(smoothed), 0.8 * 0.3 + 0.1 * 0.8 + 0.1 * 0.9, rtol=1e-5)
    assert isinstance(training_loss({"loss": "generalized", "loss_q": 0.5, "label_smoothing": 0.1}),
                      GeneralizedCrossEntropy)
    assert isinstance(training_loss({"loss": "crossentropy", "loss_q": 0.5, "label_smoothing": 0.1}),
                      keras.losses.CategoricalCrossentropy)


def test_recipe_refuses_an_unknown_loss_and_generalized_with_mixup():
    from emoscan.settings import ParamsError
    from emoscan.training.fit.recipe import check_train_params

    cfg = flat_params()["train"]
    with pytest.raises(ParamsError, match="train.loss"):
        check_train_params({**cfg, "loss": "focal"})
    with pytest.raises(ParamsError, match="mixup"):
        check_train_params({**cfg, "loss": "generalized", "mixup_alpha": 0.2})
    check_train_params({**cfg, "loss": "generalized"})
