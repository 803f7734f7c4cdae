"""The training recipe's backend-free parts, shared by the train stage (TensorFlow, CPU) and the
accelerated trainer (JAX, GPU): parameter checks, class weights, the optimiser and distillation targets."""

from __future__ import annotations

import hashlib
from pathlib import Path

import keras
import numpy as np

from emoscan.hardware import has_native_bfloat16
from emoscan.labels import CLASSES
from emoscan.settings import ParamsError, require
from emoscan.training.nets.architectures import ARCHITECTURES, average_ensemble
from emoscan.training.common.scoring import predict_probabilities


def check_train_params(cfg: dict) -> None:
    """Validate the train section of params.yaml with messages naming the key."""
    require(cfg, "architecture", str, where="train", choices=tuple(ARCHITECTURES))
    require(cfg, "epochs", int, where="train", low=0)
    if cfg["epochs"] == 0 and not cfg.get("init_from"):
        raise ParamsError("train.epochs: 0 (no training, the network is used as trained) needs train.init_from")
    require(cfg, "batch_size", int, where="train", low=1, high=4096)
    require(cfg, "optimizer", str, where="train", choices=("sgd", "adam", "adamw"))
    require(cfg, "learning_rate", (int, float), where="train", low=1e-7, high=10)
    require(cfg, "lr_schedule", str, where="train", choices=("cosine", "plateau"))
    require(cfg, "label_smoothing", (int, float), where="train", low=0, high=0.5)
    require(cfg, "mixup_alpha", (int, float), where="train", low=0, high=10)
    require(cfg, "warmup_epochs", int, where="train", low=0)
    require(cfg, "weight_decay", (int, float), where="train", low=0, high=1)
    if cfg.get("mixed_precision") not in (True, False, "auto"):
        raise ParamsError(f"train.mixed_precision: expected auto, true or false, got {cfg.get('mixed_precision')!r}")
    require(cfg, "snapshots", bool, where="train")
    require(cfg, "width", (int, float), where="train", low=0.25, high=4)
    augment = require(cfg, "augment", dict, where="train")
    require(augment, "fused_affine", bool, where="train.augment")
    for key in ("brightness", "contrast", "blur", "noise"):
        if key in augment:
            require(augment, key, (int, float), where="train.augment", low=0, high=1)
    if "blur_sigma" in augment:
        require(augment, "blur_sigma", (int, float), where="train.augment", low=0.3, high=5)
    for key in ("distill_from", "ensemble_with", "soup_with"):
        for network in require(cfg, key, list, where="train"):
            if not isinstance(network, str) or not Path(network).is_file():
                raise ParamsError(f"train.{key}: {network!r} is not a .keras file")
    require(cfg, "distill_alpha", (int, float), where="train", low=0, high=1)
    require(cfg, "distill_temperature", (int, float), where="train", low=0.5, high=10)
    if cfg["soup_with"] and not cfg.get("init_from"):
        raise ParamsError("train.soup_with: the networks are averaged with train.init_from, which is empty")
    require(cfg, "soup_batchnorm_images", int, where="train", low=1)
    require(cfg, "loss", str, where="train", choices=("crossentropy", "generalized"))
    require(cfg, "loss_q", (int, float), where="train", low=0.05, high=1)
    if cfg["loss"] != "crossentropy" and cfg["mixup_alpha"]:
        raise ParamsError("train.loss: mixup (train.mixup_alpha) trains with crossentropy only")
    require(cfg, "relabel_from", str, where="train")
    require(cfg, "relabel_weight", (int, float), where="train", low=0, high=1)


def compute_policy(setting: bool | str, accelerator: bool = False) -> str:
    """The Keras dtype policy `train.mixed_precision` asks for: "mixed_bfloat16" (bfloat16 compute,
    float32 weights) or "float32". `auto` is bfloat16 on an accelerator (`accelerator`) or on a CPU
    where bfloat16 is native (AVX-512 BF16 or AMX), else float32: elsewhere it is emulated and
    trains many times slower."""
    if setting == "auto":
        setting = accelerator or has_native_bfloat16()
    return "mixed_bfloat16" if setting else "float32"


def class_weights(y: np.ndarray, power: float, num_classes: int = len(CLASSES)) -> dict[int, float] | None:
    """Inverse-frequency class weights raised to `power` (0 disables them)."""
    if not power:
        return None
    counts = np.bincount(y, minlength=num_classes).astype(float)
    weights = (counts.sum() / (num_classes * np.maximum(counts, 1))) ** power
    return {i: float(w) for i, w in enumerate(weights)}


def leading_columns_accuracy(y_true, y_pred):
    """Per-sample top-1 hits of the first `classes` columns of `y_pred` against one-hot `y_true`."""
    return keras.metrics.categorical_accuracy(y_true, y_pred[:, :y_true.shape[-1]])


def prediction_accuracy() -> keras.metrics.Metric:
    """Top-1 accuracy of the network's columns of a training model's packed output (the network's
    probabilities, then the teachers' or the mixed target), named "accuracy" like Keras' own."""
    return keras.metrics.MeanMetricWrapper(leading_columns_accuracy, name="accuracy")


def optimizer(cfg: dict, learning_rate) -> keras.optimizers.Optimizer:
    """SGD (Nesterov), Adam or AdamW as `cfg["optimizer"]` says, at `learning_rate` (a float or a schedule)."""
    wd = float(cfg["weight_decay"]) or None
    if cfg["optimizer"] == "sgd":
        return keras.optimizers.SGD(learning_rate, momentum=cfg.get("momentum", 0.9), nesterov=True, weight_decay=wd)
    if cfg["optimizer"] == "adamw":
        return keras.optimizers.AdamW(learning_rate, weight_decay=wd or 0.004)
    return keras.optimizers.Adam(learning_rate)


def soft_targets(teacher: keras.Model, x: np.ndarray, y: np.ndarray, alpha: float, temperature: float,
                 batch_size: int = 512) -> np.ndarray:
    """Distillation targets (N, classes): `alpha` x the labels + (1 - alpha) x the teacher's
    flip-averaged probabilities on the un-augmented images, softened by `temperature` (p^(1/T),
    renormalised). `y` is class indices (N,), taken as one-hot, or a target distribution (N, classes)
    such as FER+'s normalised votes, taken as it is. Computed once, so training costs no teacher
    forward passes."""
    return mixed_targets(flip_averaged(teacher, x, batch_size), y, alpha, temperature)


def flip_averaged(teacher: keras.Model, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """The teacher's probabilities on `x`, each face averaged with its mirror image."""
    return predict_probabilities(lambda b: keras.ops.convert_to_numpy(teacher(b, training=False)), x, "flip",
                                 batch_size)


def mixed_targets(probs: np.ndarray, y: np.ndarray, alpha: float, temperature: float) -> np.ndarray:
    """`alpha` x the labels `y` + (1 - alpha) x the teacher's `probs` softened by `temperature`."""
    sharpened = np.power(np.clip(probs, 1e-8, 1.0), 1.0 / temperature)
    sharpened /= sharpened.sum(axis=1, keepdims=True)
    labels = np.eye(probs.shape[1], dtype=np.float32)[y] if y.ndim == 1 else y.astype(np.float32)
    return (alpha * labels + (1.0 - alpha) * sharpened).astype(np.float32)


def teacher_targets(teachers: list[str], x: np.ndarray, y: np.ndarray, alpha: float, temperature: float,
                    image_size: int, cache_dir: str | Path = "") -> np.ndarray:
    """`soft_targets` from the average of the `.keras` files in `teachers` (computed in float32 under
    any global precision policy); `y` as `soft_targets` takes it. With `cache_dir`, the teachers'
    probabilities are kept there under a digest of the teachers' files and the images, so that a
    restart or another seed over the same teachers and images reads them instead of recomputing."""
    cached = Path(cache_dir) / f"teachers-{teacher_digest(teachers, x)}.npy" if cache_dir else None
    if cached is not None and cached.is_file():
        return mixed_targets(np.load(cached), y, alpha, temperature)
    teacher = average_ensemble([keras.saving.load_model(t, compile=False) for t in teachers], image_size)
    probs = flip_averaged(teacher, x)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        np.save(cached.with_suffix(".tmp.npy"), probs)
        cached.with_suffix(".tmp.npy").replace(cached)  # whole or absent, even if stopped mid-write
    return mixed_targets(probs, y, alpha, temperature)


def teacher_digest(teachers: list[str], x: np.ndarray) -> str:
    """SHA-256 (first 16 hex digits) of the teachers' files, in order, and of the images."""
    digest = hashlib.sha256()
    for teacher in teachers:
        digest.update(Path(teacher).read_bytes())
    digest.update(np.ascontiguousarray(x).tobytes())
    return digest.hexdigest()[:16]
