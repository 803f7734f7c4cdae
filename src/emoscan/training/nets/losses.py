"""Losses the recipe can train with besides Keras' cross-entropy (`train.loss`)."""

from __future__ import annotations

import keras
from keras import ops


class GeneralizedCrossEntropy(keras.losses.Loss):
    """Generalised cross-entropy (Zhang and Sabuncu, 2018), a loss robust to wrong labels:
    sum_k t_k (1 - p_k^q) / q over the (smoothed) target t. It is cross-entropy as q -> 0 and the
    mean absolute error at q = 1; bounded, so a mislabelled face (FER-2013 has many) pulls the
    network less than under cross-entropy. Soft targets (distillation, votes) are taken as they are."""

    def __init__(self, q: float = 0.7, label_smoothing: float = 0.0, name: str = "generalized_crossentropy",
                 **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.q, self.label_smoothing = q, label_smoothing

    def call(self, y_true, y_pred):
        num_classes = ops.cast(ops.shape(y_true)[-1], y_pred.dtype)
        target = ops.cast(y_true, y_pred.dtype) * (1.0 - self.label_smoothing) + self.label_smoothing / num_classes
        probs = ops.clip(y_pred, 1e-7, 1.0)
        return ops.sum(target * (1.0 - ops.power(probs, self.q)) / self.q, axis=-1)

    def get_config(self) -> dict:
        return {**super().get_config(), "q": self.q, "label_smoothing": self.label_smoothing}


def training_loss(cfg: dict) -> keras.losses.Loss:
    """The loss `cfg["loss"]` names: crossentropy or generalized (with `cfg["loss_q"]`), smoothed
    by `cfg["label_smoothing"]`."""
    if cfg.get("loss", "crossentropy") == "generalized":
        return GeneralizedCrossEntropy(cfg["loss_q"], cfg["label_smoothing"])
    return keras.losses.CategoricalCrossentropy(label_smoothing=cfg["label_smoothing"])
