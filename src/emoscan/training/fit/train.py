"""Train stage: fit the chosen architecture on the split arrays, as one MLflow run.

Resumable: `keras.callbacks.BackupAndRestore` saves the full training state every epoch, and the
MLflow run id is kept beside it, so a re-run after an interruption continues the same epoch
count, schedule and MLflow run.

`train.epochs: 0` trains nothing: the `train.init_from` network (e.g. one trained on a GPU by
`emoscan.training.fit.accelerated`), or its weight average with `train.soup_with` (a model soup,
`emoscan.training.fit.soup`), is used as it is, its predictions averaged with `train.ensemble_with`.
The run then logs the networks' own training logs and provenance files, and the curves are the
init_from network's (for a soup saved as one network, its starting point's).
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

import keras
import mlflow
import numpy as np

from emoscan.training.fit.relabel import relabelled_targets
from emoscan.data.split import load_split, load_targets
from emoscan.hardware import cpu_kind
from emoscan.inference.preprocess import normalize
from emoscan.training.common.artifacts import (BEST_MODEL, RUN_ID_FILE, SNAPSHOTS, TRAINING_LOG, TRAINING_PLOT,
                                        provenance_of, save_reproducibly)
from emoscan.training.fit.recipe import (check_train_params, class_weights, compute_policy, optimizer,
                                         prediction_accuracy, teacher_targets)
from emoscan.training.fit.soup import warm_start
from emoscan.training.nets.architectures import average_ensemble, build_model, builder_kwargs
from emoscan.training.nets.augment import make_dataset
from emoscan.training.nets.losses import training_loss
from emoscan.training.nets.mixup import MixedTargetCrossEntropy, mixup_trainer
from emoscan.training.nets.transfer import start_weights
from emoscan.training.common.plots import plot_training_curves
from emoscan.training.common.tracking import flatten_params, setup_tracking

log = logging.getLogger(__name__)


class MlflowEpochLogger(keras.callbacks.Callback):
    """Log every epoch's metrics (and the learning rate) to the active MLflow run."""

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        metrics = {k: float(v) for k, v in (logs or {}).items()}
        metrics["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        mlflow.log_metrics(metrics, step=epoch)


def make_optimizer(cfg: dict, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """The recipe's optimiser with a warm-up + cosine schedule per step, or a constant rate for plateau."""
    lr: float | keras.optimizers.schedules.LearningRateSchedule = float(cfg["learning_rate"])
    if cfg["lr_schedule"] == "cosine":
        warmup = cfg["warmup_epochs"] * steps_per_epoch
        lr = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=0.0 if warmup else lr, warmup_target=lr if warmup else None,
            warmup_steps=warmup, decay_steps=max(1, cfg["epochs"] * steps_per_epoch - warmup))
    return optimizer(cfg, lr)


class EpochSnapshots(keras.callbacks.Callback):
    """Save `network`'s weights after every epoch as a float32 `.keras` file
    (`<directory>/epoch_NN.keras`), whatever the training precision: the trajectory's networks,
    for snapshot soups (`tools/gpu/select_soup.py`)."""

    def __init__(self, network: keras.Model, build: Callable[[], keras.Model], directory: Path) -> None:
        super().__init__()
        self.network, self.build, self.directory = network, build, directory

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        float32_copy(self.network, self.build).save(self.directory / f"epoch_{epoch + 1:02d}.keras")


def make_callbacks(cfg: dict, out: Path) -> list[keras.callbacks.Callback]:
    """Checkpoint (best on validation accuracy), resume backup, early stopping, logs and MLflow."""
    callbacks = [
        keras.callbacks.BackupAndRestore(str(out / "backup")),
        keras.callbacks.ModelCheckpoint(str(out / BEST_MODEL), monitor="val_accuracy", mode="max",
                                        save_best_only=True),
        keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", restore_best_weights=True,
                                      patience=cfg["early_stopping_patience"]),
        keras.callbacks.TensorBoard(log_dir=cfg["log_dir"]),
        # MLflow before the CSV log, both after the resume backup: once an epoch is in the CSV log it
        # is in MLflow too, and a run killed then resumes after it (each epoch logged once)
        MlflowEpochLogger(),
        keras.callbacks.CSVLogger(str(out / TRAINING_LOG), append=True),
    ]
    if cfg["lr_schedule"] == "plateau":
        callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=cfg["reduce_lr_factor"],
                                                           patience=cfg["reduce_lr_patience"]))
    return callbacks


def float32_copy(network: keras.Model, build: Callable[[], keras.Model]) -> keras.Model:
    """The network `build` makes under the float32 policy, holding `network`'s weights; the global
    policy is left as it was. Mixed precision keeps float32 variables, so the weights carry over
    unchanged; only the layer compute dtype differs."""
    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        copy = build()
    finally:
        keras.mixed_precision.set_global_policy(policy)
    copy.set_weights(network.get_weights())
    return copy


def float32_model(model: keras.Model, build: Callable[[], keras.Model]) -> keras.Model:
    """`model` itself, or, when it was trained under mixed bf16 (the global policy), a float32 copy
    of its weights (made by `build`); the global policy is float32 from then on. The evaluate stage,
    the ONNX export and serving then all run float32."""
    if keras.mixed_precision.global_policy().name == "float32":
        return model
    keras.mixed_precision.set_global_policy("float32")
    return float32_copy(model, build)


def with_ensemble_members(model: keras.Model, members: list[str], image_size: int) -> keras.Model:
    """`model` alone, or averaged with the committed models in `members` (train.ensemble_with)."""
    if not members:
        return model
    loaded = [keras.saving.load_model(path, compile=False) for path in members]
    return average_ensemble([model, *loaded], image_size)


def member_files(cfg: dict) -> list[Path]:
    """The provenance JSON and training-log CSV files committed beside the init_from, soup_with and
    ensemble_with networks (`<stem>.json`, `<stem>_log.csv`), where they exist."""
    networks = [cfg["init_from"]] if cfg.get("init_from") else []
    found = []
    for network in [*networks, *cfg["soup_with"], *cfg["ensemble_with"]]:
        stem = Path(network).with_suffix("")
        found += [f for f in (stem.with_suffix(".json"), Path(f"{stem}_log.csv")) if f.is_file()]
    return found


def training_log_of(network: str) -> Path | None:
    """The training log committed beside `network` (`<stem>_log.csv`); for a soup saved as one network
    (`python -m emoscan.training.fit.soup`: no epochs of its own), its starting point's. None without one."""
    stem = Path(network).with_suffix("")
    if Path(f"{stem}_log.csv").is_file():
        return Path(f"{stem}_log.csv")
    origin = provenance_of(network) or {}
    return training_log_of(origin["init_from"]) if origin.get("role") == "soup" else None


def run_name(params: dict) -> str:
    """An MLflow run name a person can tell apart in the list: label set, architecture, width, what
    was done (trained how long with which seed, or assembled from how many networks) and the date."""
    cfg = params["train"]
    head = f"{params['register']['model_name']} {cfg['architecture']} w{float(cfg['width']):g}"
    if cfg["epochs"] == 0:
        soup = 1 + len(cfg["soup_with"])
        what = f"assembled: soup of {soup}" if soup > 1 else "assembled"
        what += f" + {len(cfg['ensemble_with'])} averaged" if cfg["ensemble_with"] else ""
    else:
        start = f", from {Path(cfg['init_from']).stem}" if cfg.get("init_from") else ""
        what = f"{cfg['epochs']} epoch{'s' if cfg['epochs'] != 1 else ''} seed {cfg['seed']}{start}"
    return f"{head} {what}, {time.strftime('%Y-%m-%d %H:%M')}"


def assemble(params: dict) -> dict:
    """`train.epochs: 0`: save the init_from network (averaged with ensemble_with) as the trained model,
    as one MLflow run; returns the same summary as `train`."""
    cfg, n, size = params["train"], len(params["classes"]), params["image_size"]
    out = Path(cfg["output_dir"])
    out.mkdir(parents=True, exist_ok=True)
    for stale in (TRAINING_LOG, BEST_MODEL, RUN_ID_FILE, TRAINING_PLOT):
        (out / stale).unlink(missing_ok=True)
    x_train = load_split(params["split"]["output_dir"], "train")[0] if cfg["soup_with"] else None
    saved = with_ensemble_members(warm_start(cfg, x_train, normalize), cfg["ensemble_with"], size)
    save_reproducibly(saved, out / BEST_MODEL)
    curves = training_log_of(cfg["init_from"])
    if curves is not None:
        shutil.copy(curves, out / TRAINING_LOG)
    else:  # no log came with the network: empty curves, so the stage's outputs still exist
        (out / TRAINING_LOG).write_text("epoch,accuracy,learning_rate,loss,val_accuracy,val_loss\n")
    plot_training_curves(out / TRAINING_LOG, out / TRAINING_PLOT)
    x_val, y_val = load_split(params["split"]["output_dir"], "val")
    saved.compile(loss="categorical_crossentropy", metrics=["accuracy"])
    val_accuracy = float(saved.evaluate(make_dataset(x_val, y_val, 256, n), verbose=0, return_dict=True)["accuracy"])
    setup_tracking(params["mlflow"])
    with mlflow.start_run(run_name=run_name(params)) as run:
        (out / RUN_ID_FILE).write_text(run.info.run_id)
        mlflow.log_params(flatten_params({k: params[k] for k in ("split", "train")}))
        mlflow.set_tags({"stage": "train", "architecture": cfg["architecture"], "trained_here": "false"})
        mlflow.log_metric("best_val_accuracy", val_accuracy)
        for f in member_files(cfg):
            mlflow.log_artifact(str(f), artifact_path="members")
        for name in (TRAINING_LOG, TRAINING_PLOT):
            mlflow.log_artifact(str(out / name))
        mlflow.log_artifact(str(out / BEST_MODEL), artifact_path="keras")
        summary = {"run_id": run.info.run_id, "best_val_accuracy": val_accuracy, "epochs": 0,
                   "epochs_this_process": 0, "init_from": cfg["init_from"], "soup_with": cfg["soup_with"],
                   "ensemble_with": cfg["ensemble_with"],
                   "train_minutes": 0.0}
        (out / "train_summary.json").write_text(json.dumps(summary, indent=2))
        mlflow.log_artifact(str(out / "train_summary.json"))
    log.info("assembled %s (soup with %s) + %s without training: val accuracy %.4f", cfg["init_from"],
             cfg["soup_with"], cfg["ensemble_with"], val_accuracy)
    return summary


def train(params: dict) -> dict:
    """Run the train stage; returns {"run_id", "best_val_accuracy", "epochs"}."""
    cfg, split_dir = params["train"], params["split"]["output_dir"]
    check_train_params(cfg)
    if cfg["epochs"] == 0:
        return assemble(params)
    keras.utils.set_random_seed(cfg["seed"])
    policy = compute_policy(cfg["mixed_precision"])
    keras.mixed_precision.set_global_policy(policy)
    log.info("train.mixed_precision %s: computing in %s on %s", cfg["mixed_precision"], policy, cpu_kind())
    out = Path(cfg["output_dir"])
    out.mkdir(parents=True, exist_ok=True)

    x_train, y_train, votes = load_targets(split_dir, "train")
    x_val, y_val = load_split(split_dir, "val")
    classes = tuple(params["classes"])
    n = len(classes)
    # FER+: the annotators' vote distribution is the target (Barsoum et al., 2016)
    targets = y_train if votes is None else votes
    if cfg["relabel_from"] and cfg["relabel_weight"]:
        # the same faces relabelled by another label set (FER+'s votes for FER-2013's images)
        targets, found = relabelled_targets(x_train, y_train, list(classes), cfg["relabel"]["split_dir"],
                                            cfg["relabel"]["classes"], cfg["relabel_weight"])
        log.info("%d of %d training faces also learn %s's votes (weight %.2f)", found, len(x_train),
                 cfg["relabel_from"], cfg["relabel_weight"])
    if cfg["distill_from"]:
        # knowledge distillation: the labels (FER+'s votes, where the split has them) mixed with the
        # teachers' average, computed once before training
        targets = teacher_targets(cfg["distill_from"], x_train, targets, cfg["distill_alpha"],
                                  cfg["distill_temperature"], params["image_size"], cfg.get("teacher_cache", ""))
        log.info("distilling from %s (alpha %.2f, T %.1f)", cfg["distill_from"], cfg["distill_alpha"],
                 cfg["distill_temperature"])
    train_ds = make_dataset(x_train, targets, cfg["batch_size"], n, training=True,
                            augment_cfg=cfg["augment"], seed=cfg["seed"])
    val_ds = make_dataset(x_val, y_val, cfg["batch_size"], n)

    resuming = (out / "backup").exists() and (out / RUN_ID_FILE).exists()
    if not resuming:
        for stale in (TRAINING_LOG, BEST_MODEL):
            (out / stale).unlink(missing_ok=True)
        shutil.rmtree(out / SNAPSHOTS, ignore_errors=True)
    setup_tracking(params["mlflow"])
    run_id = (out / RUN_ID_FILE).read_text().strip() if resuming else None
    with mlflow.start_run(run_id=run_id, run_name=None if resuming else run_name(params)) as run:
        (out / RUN_ID_FILE).write_text(run.info.run_id)
        if not resuming:
            mlflow.log_params(flatten_params({k: params[k] for k in ("split", "train")}))
            mlflow.set_tags({"stage": "train", "architecture": cfg["architecture"], "precision": policy,
                             "cpu": cpu_kind()})
        log.info("%s MLflow run %s", "resuming" if resuming else "starting", run.info.run_id)

        def build() -> keras.Model:  # the recipe's network, under the global precision policy
            return build_model(cfg["architecture"], params["image_size"], n, **builder_kwargs(cfg))

        model = build()
        start = None if resuming else warm_start(cfg, x_train, normalize)
        if start is not None:
            # warm start (e.g. from the shipped model): a new schedule over the same weights; a
            # network of another label set gives every layer but the classifier, mapped by class name
            model.set_weights(start_weights(start, model, classes, provenance_of(cfg["init_from"])))
            log.info("initialised weights from %s", [cfg["init_from"], *cfg["soup_with"]])
        steps = int(np.ceil(len(x_train) / cfg["batch_size"]))
        fitted, fit_train, fit_val = model, train_ds, val_ds
        loss = training_loss(cfg)
        metrics: list = ["accuracy"]
        if cfg["mixup_alpha"]:
            # mixup inside the fitted model, after tf.data's augmentation: it takes (image, target)
            fitted = mixup_trainer(model, cfg["mixup_alpha"], cfg["seed"], params["image_size"], n)
            fit_train, fit_val = (ds.map(lambda a, b: ((a, b), b)) for ds in (train_ds, val_ds))
            loss, metrics = MixedTargetCrossEntropy(n, cfg["label_smoothing"]), [prediction_accuracy()]
        fitted.compile(optimizer=make_optimizer(cfg, steps), loss=loss, metrics=metrics, jit_compile=False)
        callbacks = make_callbacks(cfg, out)
        if cfg["snapshots"]:
            callbacks.append(EpochSnapshots(model, build, out / SNAPSHOTS))
        started = time.time()
        history = fitted.fit(fit_train, validation_data=fit_val, epochs=cfg["epochs"], callbacks=callbacks,
                            class_weight=class_weights(y_train, cfg.get("class_weight_power", 0.0), n),
                            verbose=1 if sys.stdout.isatty() else 2)
        # EarlyStopping restored the best weights; the saved model always computes in float32
        trained = float32_model(model, build)
        saved = with_ensemble_members(trained, cfg["ensemble_with"], params["image_size"])
        save_reproducibly(saved, out / BEST_MODEL)
        plot_training_curves(out / TRAINING_LOG, out / TRAINING_PLOT)
        best = float(max(history.history.get("val_accuracy", [0.0]) or [0.0]))
        log_rows = np.atleast_1d(np.genfromtxt(out / TRAINING_LOG, delimiter=",", names=True))
        summary = {"run_id": run.info.run_id, "best_val_accuracy": best, "epochs": int(len(log_rows)),
                   "precision": policy, "cpu": cpu_kind(),
                   "ensemble_with": cfg["ensemble_with"],
                   "epochs_this_process": len(history.history.get("loss", [])),
                   "train_minutes": round((time.time() - started) / 60, 1)}
        mlflow.log_metric("best_val_accuracy", best)
        if cfg["ensemble_with"]:
            saved.compile(loss="categorical_crossentropy", metrics=["accuracy"])
            summary["ensemble_val_accuracy"] = float(saved.evaluate(val_ds, verbose=0, return_dict=True)["accuracy"])
            mlflow.log_metric("ensemble_val_accuracy", summary["ensemble_val_accuracy"])
            log.info("ensemble of the trained network and %s: val accuracy %.4f", cfg["ensemble_with"],
                     summary["ensemble_val_accuracy"])
        (out / "train_summary.json").write_text(json.dumps(summary, indent=2))
        for name in (TRAINING_LOG, TRAINING_PLOT, "train_summary.json"):
            mlflow.log_artifact(str(out / name))
        mlflow.log_artifacts(cfg["log_dir"], artifact_path="tensorboard")
        mlflow.log_artifact(str(out / BEST_MODEL), artifact_path="keras")
    return summary
