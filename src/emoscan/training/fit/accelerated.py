"""The train recipe on a GPU under any Keras backend (JAX on a GPU machine, where TensorFlow
cannot be installed): several members in parallel processes, then students distilled from their
average. The same architectures, augmentation and optimisers as the train stage; `.keras` out.

    KERAS_BACKEND=jax python -m emoscan.training.fit.accelerated            # every member, then students
    KERAS_BACKEND=jax python -m emoscan.training.fit.accelerated --member a # one member (a child process)
    KERAS_BACKEND=jax python -m emoscan.training.fit.accelerated --model ferplus            # FER+

The classes come from the params file; where the split has vote distributions (FER+), they are
the targets, as in the train stage.

Each member and student is a key of `accelerated.members` / `accelerated.students` in params.yaml,
whose values override `train`. Training is sized to a wall-clock budget: after the warm-up epochs
the epoch time is measured and the cosine schedule is laid over the epochs that fit, so a run
always finishes its annealing. Selection uses the validation split only (best epoch on
`val_accuracy`). The outputs come back as committed `train.init_from` / `train.ensemble_with`
inputs of the DVC pipeline, which exports, evaluates and registers them like any other model.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np

from emoscan.settings import ParamsError, load_params, read_params, require
from emoscan.training.fit.relabel import relabelled_targets
from emoscan.data.split import load_split, load_targets
from emoscan.training.common.artifacts import provenance_of
from emoscan.training.nets.architectures import average_ensemble, build_model, builder_kwargs
from emoscan.training.nets.augment import build_training_augmenter
from emoscan.training.nets.mixup import MixedTargetCrossEntropy, mixup_trainer
from emoscan.training.nets.transfer import start_weights
from emoscan.training.fit.recipe import (check_train_params, class_weights, compute_policy, optimizer,
                                         prediction_accuracy, teacher_targets)
from emoscan.training.fit.soup import save_soup, warm_start

log = logging.getLogger(__name__)


def on_accelerator() -> bool:
    """Whether Keras' backend runs on a GPU or TPU here (JAX's default device), where bfloat16 is native."""
    if keras.backend.backend() != "jax":
        return False
    import jax

    return jax.default_backend() in ("gpu", "tpu")


class BudgetCosine(keras.callbacks.Callback):
    """Linear warm-up, then per-epoch cosine decay to zero over as many epochs as fit the budget.

    The epoch count is set after the warm-up from the measured epoch time (the first epoch, which
    compiles, is left out of the measurement) and lowered whenever later epochs run slower, so
    the run ends inside its budget; training stops when the count is reached. (On the H200, six
    runs sharing the GPU timed their warm-up while others were still compiling: with the count
    fixed once, two overran the call.)
    """

    def __init__(self, peak_lr: float, max_epochs: int, warmup_epochs: int, budget_s: float, started: float):
        super().__init__()
        self.peak_lr, self.max_epochs, self.budget_s, self.started = peak_lr, max_epochs, budget_s, started
        self.warmup = max(2, warmup_epochs)  # >= 2 so one epoch after compilation is timed
        self.total = max_epochs
        self._epoch_started = 0.0
        self._timed: list[float] = []

    def learning_rate(self, epoch: int) -> float:
        """The rate for `epoch` (0-based) under the current epoch count."""
        if epoch < self.warmup:
            return self.peak_lr * (epoch + 1) / self.warmup
        # the epoch's midpoint, so the first annealed epoch is below the peak and the last above zero
        progress = (epoch - self.warmup + 0.5) / max(1, self.total - self.warmup)
        return 0.5 * self.peak_lr * (1 + math.cos(math.pi * min(1.0, progress)))

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch_started = time.time()
        self.model.optimizer.learning_rate = self.learning_rate(epoch)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if epoch >= 1:
            self._timed.append(time.time() - self._epoch_started)
        if epoch >= self.warmup - 1:
            # the last few epochs' time: runs sharing the GPU slow each other down as they come and go
            per_epoch = float(np.mean(self._timed[-3:]))
            left = self.budget_s - (time.time() - self.started)
            fits = epoch + 1 + int(left / (per_epoch * 1.05))
            if epoch == self.warmup - 1:
                self.total = max(self.warmup + 1, min(self.max_epochs, fits))
                log.info("%.2f s per epoch: training %d epochs (budget %.0f s)", per_epoch, self.total, self.budget_s)
            elif fits < self.total:  # only ever fewer: the anneal compresses, the budget holds
                self.total = max(epoch + 1, fits)
                log.info("epochs slowed to %.2f s: training %d epochs", per_epoch, self.total)
        if logs is not None:
            logs["learning_rate"] = self.learning_rate(epoch)
        if epoch + 1 >= self.total:
            self.model.stop_training = True


class OnlineDistillation(keras.losses.Loss):
    """Knowledge distillation on the training step's own augmented batch. `y_pred` is the student's
    probabilities followed by the teachers' (on the same augmented images); the loss is
    alpha x cross-entropy with the (smoothed) labels + (1 - alpha) x T^2 x KL(teacher_T || student_T),
    where _T softens a distribution by temperature T (Hinton et al., 2015).

    Offline targets (the teachers on the un-augmented training images, `train.distill_from`) lost
    on the CPU (v6): teachers nearly reproduce their own training labels there. On augmented views
    they do not, and the student learns their uncertainty."""

    def __init__(self, num_classes: int, alpha: float, temperature: float, label_smoothing: float = 0.0,
                 name: str = "online_distillation", **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_classes, self.alpha, self.temperature = num_classes, alpha, temperature
        self.label_smoothing = label_smoothing

    def call(self, y_true, y_pred):
        from keras import ops

        student, teacher = y_pred[:, :self.num_classes], y_pred[:, self.num_classes:]
        hard = keras.losses.categorical_crossentropy(y_true, student, label_smoothing=self.label_smoothing)
        soft_student = ops.log(ops.clip(student, 1e-7, 1.0)) / self.temperature
        soft_teacher = ops.softmax(ops.log(ops.clip(teacher, 1e-7, 1.0)) / self.temperature, axis=-1)
        kl = ops.sum(soft_teacher * (ops.log(ops.clip(soft_teacher, 1e-7, 1.0)) - ops.log_softmax(soft_student, axis=-1)),
                     axis=-1)
        return self.alpha * hard + (1.0 - self.alpha) * self.temperature ** 2 * kl

    def get_config(self) -> dict:
        return {**super().get_config(), "num_classes": self.num_classes, "alpha": self.alpha,
                "temperature": self.temperature, "label_smoothing": self.label_smoothing}


def run_config(params: dict, group: str, name: str) -> dict:
    """`train` with the overrides of `accelerated.<group>.<name>`, checked like the train stage's."""
    acc = params["accelerated"]
    runs = require(acc, group, dict, where="accelerated")
    if name not in runs:
        raise ParamsError(f"accelerated.{group}: no run {name!r} (have {sorted(runs)})")
    overrides = runs[name] or {}
    if overrides.get("snapshots"):
        # a snapshot per epoch is 21 MB at width 2.0 and a GPU run has 50-230 epochs; the CPU train stage keeps them
        raise ParamsError(f"accelerated.{group}.{name}: snapshots are saved by the CPU train stage only")
    # the train stage's own outputs and inputs (its ensemble, teachers, snapshots) are not inherited
    cfg = {**params["train"], **overrides, "ensemble_with": [], "distill_from": [], "snapshots": False,
           "init_from": overrides.get("init_from", ""), "soup_with": overrides.get("soup_with", [])}
    check_train_params(cfg)
    if cfg["loss"] != "crossentropy":
        raise ParamsError(f"accelerated.{group}.{name}: train.loss {cfg['loss']!r} is the CPU train stage's only; "
                          "this trainer learns with crossentropy")
    return cfg


def as_inputs(x: np.ndarray) -> np.ndarray:
    """uint8 (N, 48, 48) images as the network's (N, 48, 48, 1) float32 input in [0, 1], as
    `emoscan.inference.preprocess.normalize` scales them for serving."""
    return x[..., None].astype("float32") / 255.0


def fit(params: dict, group: str, name: str, teachers: list[str] | None = None) -> dict:
    """Train member or student `name` and save `<output_dir>/<name>.keras` (float32) with its log
    and provenance JSON; returns the provenance."""
    started = time.time()
    acc, cfg = params["accelerated"], run_config(params, group, name)
    # every check before the global dtype policy changes: a refused run leaves float32 behind
    distillation = acc.get("distillation", "online")
    if distillation not in ("none", "online", "offline"):
        raise ParamsError(f"accelerated.distillation: expected none, online or offline, got {distillation!r}")
    mode = distillation if teachers else None
    mixup = float(cfg["mixup_alpha"])
    if mixup and mode == "online":
        raise ParamsError(f"accelerated.{group}.{name}: mixup_alpha with online distillation is not supported")
    keras.utils.set_random_seed(cfg["seed"])
    policy = compute_policy(cfg["mixed_precision"], accelerator=on_accelerator())
    keras.mixed_precision.set_global_policy(policy)
    log.info("%s.%s: train.mixed_precision %s, computing in %s", group, name, cfg["mixed_precision"], policy)
    out = Path(acc["output_dir"])
    out.mkdir(parents=True, exist_ok=True)
    x_train, y_train, votes = load_targets(acc["data_dir"], "train")
    x_val, y_val = load_split(acc["data_dir"], "val")
    classes = tuple(params["classes"])
    n, size = len(classes), params["image_size"]
    # FER+: the annotators' vote distribution is the target, as in the train stage
    labels = y_train if votes is None else votes
    if cfg["relabel_from"] and cfg["relabel_weight"]:  # FER+'s votes for FER-2013's faces, as in the train stage
        labels, _ = relabelled_targets(x_train, y_train, list(classes), cfg["relabel"]["split_dir"],
                                       cfg["relabel"]["classes"], cfg["relabel_weight"])
    targets = np.eye(n, dtype="float32")[labels] if labels.ndim == 1 else labels.astype("float32")
    if mode == "offline":
        targets = teacher_targets(teachers, x_train, labels, cfg["distill_alpha"], cfg["distill_temperature"], size)

    net = build_model(cfg["architecture"], size, n, **builder_kwargs(cfg))
    start = warm_start(cfg, x_train, as_inputs)
    if start is not None:
        # a network of another label set (FER-2013's for FER+) gives every layer but the classifier,
        # whose columns are mapped by class name
        net.set_weights(start_weights(start, net, classes, provenance_of(cfg["init_from"])))
    augmenter = build_training_augmenter(cfg["augment"], cfg["seed"])
    x_train_in, x_val_in, y_val_hot = as_inputs(x_train), as_inputs(x_val), np.eye(n, dtype="float32")[y_val]
    fit_x, val_x = x_train_in, x_val_in
    if mixup:
        trainer = mixup_trainer(net, mixup, cfg["seed"], size, n, augmenter)
        loss, metrics = MixedTargetCrossEntropy(n, cfg["label_smoothing"]), [prediction_accuracy()]
        fit_x, val_x = [x_train_in, targets], [x_val_in, y_val_hot]  # the targets are mixed in the graph
    else:
        inputs = keras.Input((size, size, 1), name="image")
        augmented = augmenter(inputs)
        if mode == "online":
            teacher = average_ensemble([keras.saving.load_model(t, compile=False) for t in teachers], size)
            teacher.trainable = False
            outputs = keras.layers.Concatenate(dtype="float32")([net(augmented), teacher(augmented, training=False)])
            loss = OnlineDistillation(n, cfg["distill_alpha"], cfg["distill_temperature"], cfg["label_smoothing"])
            metrics = [prediction_accuracy()]
        else:
            outputs = net(augmented)
            loss = keras.losses.CategoricalCrossentropy(label_smoothing=cfg["label_smoothing"])
            metrics = ["accuracy"]
        trainer = keras.Model(inputs, outputs, name=f"train_{name}")
    trainer.compile(optimizer=optimizer(cfg, float(cfg["learning_rate"])), metrics=metrics, loss=loss)

    schedule = BudgetCosine(float(cfg["learning_rate"]), cfg["epochs"], cfg["warmup_epochs"],
                            float(acc["time_budget_minutes"][group]) * 60, started)
    callbacks = [schedule, keras.callbacks.CSVLogger(str(out / f"{name}_log.csv")),
                 keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=cfg["epochs"],
                                               restore_best_weights=True)]
    history = trainer.fit(fit_x, targets, batch_size=cfg["batch_size"], epochs=cfg["epochs"],
                          shuffle=True, validation_data=(val_x, y_val_hot),
                          callbacks=callbacks, verbose=2,
                          class_weight=class_weights(y_train, cfg.get("class_weight_power", 0.0), n))
    keras.mixed_precision.set_global_policy("float32")
    saved = build_model(cfg["architecture"], size, n, **builder_kwargs(cfg))
    saved.set_weights(net.get_weights())  # mixed precision keeps float32 variables: a float32 copy
    saved.save(out / f"{name}.keras")
    val_probs = np.concatenate([keras.ops.convert_to_numpy(saved(x_val_in[i:i + 512], training=False))
                                for i in range(0, len(x_val), 512)])
    provenance = {
        "name": name, "role": group, "classes": list(classes), "targets": "votes" if votes is not None else "labels",
        "architecture": cfg["architecture"], "width": cfg.get("width", 1.0),
        "params": saved.count_params(), "recipe": params["accelerated"][group][name] or {},
        "teachers": teachers or [],
        "distill": {"alpha": cfg["distill_alpha"], "temperature": cfg["distill_temperature"], "mode": mode}
        if teachers else None,
        "epochs": len(history.history["loss"]), "val_accuracy": float((val_probs.argmax(1) == y_val).mean()),
        "minutes": round((time.time() - started) / 60, 2), "keras_backend": keras.backend.backend(),
        "keras": keras.__version__,
        "device": os.environ.get("EMOSCAN_DEVICE") or f"unnamed (EMOSCAN_DEVICE unset; {os.cpu_count()} CPUs)",
        "fused_affine": bool(cfg["augment"].get("fused_affine")),
    }
    (out / f"{name}.json").write_text(json.dumps(provenance, indent=2))
    log.info("%s: %d epochs, val accuracy %.4f, %.1f min", name, provenance["epochs"],
             provenance["val_accuracy"], provenance["minutes"])
    return provenance


def student_teachers(acc: dict) -> list[str] | None:
    """The networks the students learn from: `accelerated.teachers` (committed .keras files, e.g. to
    distil on the CPU from networks trained on a GPU) or, when empty, the members this run trained;
    None with `accelerated.distillation: none` (students then train on the labels alone)."""
    if acc.get("distillation") == "none":  # students are plain warm restarts (e.g. of this call's members)
        return None
    listed = acc.get("teachers") or []
    if not isinstance(listed, list):
        raise ParamsError(f"accelerated.teachers: expected a list of .keras files, got {listed!r}")
    if listed:
        missing = [t for t in listed if not Path(t).is_file()]
        if missing:
            raise ParamsError(f"accelerated.teachers: no such file {missing}")
        return [str(t) for t in listed]
    out = Path(acc["output_dir"])
    teachers = [str(out / f"{m}.keras") for m in acc["members"] if (out / f"{m}.keras").exists()]
    if not teachers:
        raise ParamsError("accelerated.students need teachers: accelerated.teachers or trained members")
    return teachers


def run_parallel(group: str, names: list[str], params_path: str, model: str) -> list[str]:
    """Train `names` in one child process each (one GPU is shared); returns those that finished."""
    env = {**os.environ, "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}  # several processes share the GPU
    procs = {name: subprocess.Popen([sys.executable, "-m", "emoscan.training.fit.accelerated", f"--{group[:-1]}", name,
                                     "--params", params_path, "--model", model], env=env) for name in names}
    return [name for name, proc in procs.items() if proc.wait() == 0]


def remake_network(params_path: str, name: str) -> Path:
    """`networks.NAME` of the params file, as the frozen `networks` stage runs it on a GPU: its
    members in parallel, then its students (plain warm restarts), then the soup of them it names;
    the result written to `models/warm_start/NAME.keras` with its provenance JSON."""
    import shutil
    import tempfile

    import yaml

    raw = read_params(params_path)
    recipe = (raw.get("networks") or {}).get(name)
    if not isinstance(recipe, dict):
        raise ParamsError(f"networks.{name}: not in {params_path}")
    model = recipe["model"]
    raw["accelerated"] = {**raw.get("accelerated", {}), "members": recipe.get("members") or {},
                          "students": recipe.get("students") or {}, "distillation": "none", "teachers": [],
                          "time_budget_minutes": recipe["time_budget_minutes"]}
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", dir=".", delete=False) as file:
        yaml.safe_dump(raw, file)
    try:
        params = load_params(file.name, model=model)
        out, runs = Path(params["accelerated"]["output_dir"]), [*(recipe.get("members") or {}), *(recipe.get("students") or {})]
        for group in ("members", "students"):
            if recipe.get(group) and len(run_parallel(group, list(recipe[group]), file.name, model)) < len(recipe[group]):
                raise RuntimeError(f"networks.{name}: a run of {group} failed")
        made = Path("models/warm_start") / f"{name}.keras"
        if recipe.get("soup"):
            save_soup(made, [str(out / f"{run}.keras") for run in recipe["soup"]], params)
        else:
            shutil.copy(out / f"{runs[0]}.keras", made)
            shutil.copy(out / f"{runs[0]}.json", made.with_suffix(".json"))
        return made
    finally:
        Path(file.name).unlink()


def main(argv: list[str] | None = None) -> int:
    """Entry point: every member in parallel then every student, or one run with --member/--student."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--model", default="fer2013", help="the model of params.yaml whose recipe and data to use")
    one = parser.add_mutually_exclusive_group()
    one.add_argument("--member", help="train one member of accelerated.members")
    one.add_argument("--student", help="distil one student of accelerated.students from the members")
    one.add_argument("--network", help="remake one network of params.yaml's networks (the frozen networks stage)")
    args = parser.parse_args(argv)
    if args.network:
        log.info("made %s", remake_network(args.params, args.network))
        return 0
    params = load_params(args.params, model=args.model)
    acc = params["accelerated"]
    if args.member:
        fit(params, "members", args.member)
        return 0
    if args.student:
        fit(params, "students", args.student, teachers=student_teachers(acc))
        return 0
    if acc["members"]:
        members = run_parallel("members", list(acc["members"]), args.params, args.model)
        log.info("members finished: %s", members)
        if not members:
            return 1
    students = run_parallel("students", list(acc["students"]), args.params, args.model) if acc["students"] else []
    log.info("students finished: %s", students)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
