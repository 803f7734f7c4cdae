"""Keras model builders. Every builder takes the input size and class count and returns a
compiled-ready `keras.Model` whose input is (size, size, 1) float in [0, 1]."""

from __future__ import annotations

from collections.abc import Callable

import keras
from keras import layers

from emoscan.training.nets.compact import emoscan_compact


def conv_block(x, filters: int, dropout: float, convs: int = 2, weight_decay: float = 0.0):
    """`convs` x (3x3 conv, BatchNorm, ReLU), then 2x2 max-pool and dropout."""
    reg = keras.regularizers.L2(weight_decay) if weight_decay else None
    for _ in range(convs):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_regularizer=reg)(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
    x = layers.MaxPooling2D()(x)
    return layers.Dropout(dropout)(x)


def seed_vgg(image_size: int = 48, num_classes: int = 7, dropout_scale: float = 1.0,
             weight_decay: float = 0.0, width: float = 1.0) -> keras.Model:
    """The seed's VGG-style network: 64/128/256 filters, dropout 0.25/0.35/0.45, Dense 256
    (`width` multiplies the filters and units)."""
    inputs = keras.Input((image_size, image_size, 1), name="image")
    x = inputs
    for filters, drop in ((64, 0.25), (128, 0.35), (256, 0.45)):
        x = conv_block(x, round(filters * width), drop * dropout_scale, weight_decay=weight_decay)
    x = layers.Flatten()(x)
    x = layers.Dense(round(256 * width), activation="relu")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Dropout(0.5 * dropout_scale)(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="seed_vgg")


def emoscan_vgg(image_size: int = 48, num_classes: int = 7, dropout_scale: float = 1.0,
                weight_decay: float = 0.0, width: float = 1.0) -> keras.Model:
    """A deeper, cheaper VGG: four stages 32/64/128/256 (about a third of seed_vgg's FLOPs),
    global average + max pooling head. Built to train many epochs on a CPU budget.

    `width` multiplies every layer's filters (FLOPs grow as its square).
    """
    inputs = keras.Input((image_size, image_size, 1), name="image")
    x = inputs
    for filters, drop in ((32, 0.1), (64, 0.2), (128, 0.3), (256, 0.4)):
        x = conv_block(x, round(filters * width), drop * dropout_scale, weight_decay=weight_decay)
    x = layers.Concatenate()([layers.GlobalAveragePooling2D()(x), layers.GlobalMaxPooling2D()(x)])
    x = layers.Dense(round(256 * width), use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    x = layers.Dropout(0.5 * dropout_scale)(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="emoscan_vgg")


def average_ensemble(members: list[keras.Model], image_size: int = 48) -> keras.Model:
    """One model whose output is the mean of the members' class probabilities (one ONNX graph)."""
    inputs = keras.Input((image_size, image_size, 1), name="image")
    # nested models need distinct names; re-wrapping shares the member's layers and weights
    renamed = [keras.Model(m.inputs[0], m.outputs[0], name=f"member_{i}") for i, m in enumerate(members)]
    outputs = layers.Average(name="probabilities", dtype="float32")([m(inputs) for m in renamed])
    return keras.Model(inputs, outputs, name="ensemble")


ARCHITECTURES: dict[str, Callable[..., keras.Model]] = {"seed_vgg": seed_vgg, "emoscan_vgg": emoscan_vgg,
                                                        "emoscan_compact": emoscan_compact}


def build_model(name: str, image_size: int = 48, num_classes: int = 7, **kwargs) -> keras.Model:
    """Build the architecture called `name` (a key of ARCHITECTURES)."""
    if name not in ARCHITECTURES:
        raise ValueError(f"train.architecture: expected one of {sorted(ARCHITECTURES)}, got {name!r}")
    return ARCHITECTURES[name](image_size, num_classes, **kwargs)


def builder_kwargs(cfg: dict) -> dict:
    """The builder arguments a `train` section sets: dropout_scale and width."""
    return {"dropout_scale": float(cfg.get("dropout_scale", 1.0)), "width": float(cfg.get("width", 1.0))}
