"""Mixup (Zhang et al., 2018): train on convex combinations of pairs of images and of their targets,
lambda ~ Beta(alpha, alpha) per image. The 73.70% FER-2013 ResNet18 trains with it and label
smoothing.

It runs inside the training model, after the augmentation, so that one definition serves the train
stage (TensorFlow) and the accelerated trainer (JAX). That model takes (image, target) and outputs
the network's probabilities followed by the mixed target, which `MixedTargetCrossEntropy` scores;
the saved network never contains it.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="emoscan")
class MixUp(keras.layers.Layer):
    """(images, targets) -> the same batch mixed with a random permutation of itself when training,
    unchanged otherwise. Images (N, H, W, C) and targets (N, classes) get the same lambda per image."""

    def __init__(self, alpha: float, seed: int | None = None, **kwargs) -> None:
        kwargs.setdefault("dtype", "float32")  # mixed in float32 under a bfloat16 policy too
        super().__init__(**kwargs)
        self.alpha, self.seed = float(alpha), seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        images, targets = inputs
        if not training or self.alpha <= 0:
            return images, targets
        n = ops.shape(images)[0]
        lam = keras.random.beta((n,), self.alpha, self.alpha, seed=self.seed_generator)
        order = ops.argsort(keras.random.uniform((n,), seed=self.seed_generator))
        lam_images = ops.reshape(lam, (-1, 1, 1, 1))
        lam_targets = ops.reshape(lam, (-1, 1))
        images = lam_images * images + (1.0 - lam_images) * ops.take(images, order, axis=0)
        targets = lam_targets * targets + (1.0 - lam_targets) * ops.take(targets, order, axis=0)
        return images, targets

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self) -> dict:
        return {**super().get_config(), "alpha": self.alpha, "seed": self.seed}


@keras.saving.register_keras_serializable(package="emoscan")
class MixedTargetCrossEntropy(keras.losses.Loss):
    """Cross-entropy of the network's probabilities (the first `num_classes` columns of the training
    model's output) with the mixed target (the rest), smoothed by `label_smoothing`. The unmixed
    `y_true` only sets class weights and the accuracy metric."""

    def __init__(self, num_classes: int, label_smoothing: float = 0.0, name: str = "mixed_target_crossentropy",
                 **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.num_classes, self.label_smoothing = num_classes, label_smoothing

    def call(self, y_true, y_pred):
        probs, target = y_pred[:, :self.num_classes], y_pred[:, self.num_classes:]
        return keras.losses.categorical_crossentropy(target, probs, label_smoothing=self.label_smoothing)

    def get_config(self) -> dict:
        return {**super().get_config(), "num_classes": self.num_classes, "label_smoothing": self.label_smoothing}


def mixup_trainer(net: keras.Model, alpha: float, seed: int, image_size: int, num_classes: int,
                  augmenter: keras.Layer | None = None) -> keras.Model:
    """The model `fit` trains: (image, target) -> [net's probabilities, mixed target], with the
    augmentation (when given) before the mixing. `net` shares its weights with it."""
    image = keras.Input((image_size, image_size, 1), name="image")
    target = keras.Input((num_classes,), name="target")
    x = augmenter(image) if augmenter is not None else image
    mixed_x, mixed_target = MixUp(alpha, seed, name="mixup")((x, target))
    outputs = keras.layers.Concatenate(dtype="float32")([net(mixed_x), mixed_target])
    return keras.Model([image, target], outputs, name=f"mixup_{net.name}")
