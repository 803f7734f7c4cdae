"""Training-time augmentation as Keras preprocessing layers, so one definition runs on any backend.

Under TensorFlow (the CPU pipeline) the layers run inside tf.data on batches, so two CPU cores keep
up with the network; under JAX (the GPU trainer, `emoscan.training.fit.accelerated`) they run on the
device inside the training step. Either way the exported model stays free of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras

from emoscan.training.nets.affine import RandomAffine

if TYPE_CHECKING:
    import tensorflow as tf


def photometric_layers(cfg: dict, seed: int) -> list[keras.layers.Layer]:
    """Brightness, contrast, Gaussian blur and pixel noise (`train.augment`, each 0 = off): the
    look of a face (lighting, camera, resampling) changed while its expression stays."""
    stack: list[keras.layers.Layer] = []
    if cfg.get("brightness"):
        stack.append(keras.layers.RandomBrightness(cfg["brightness"], value_range=(0.0, 1.0), seed=seed))
    if cfg.get("contrast"):
        stack.append(keras.layers.RandomContrast(cfg["contrast"], value_range=(0.0, 1.0), seed=seed))
    if cfg.get("blur"):
        # each face blurred with probability `blur`, sigma drawn per batch from [0.3, blur_sigma]
        stack.append(keras.layers.RandomGaussianBlur(factor=(cfg["blur"], cfg["blur"]), kernel_size=5,
                                                     sigma=(0.3, max(0.3, float(cfg.get("blur_sigma", 1.0)))),
                                                     value_range=(0.0, 1.0), seed=seed))
    if cfg.get("noise"):
        stack.append(keras.layers.GaussianNoise(cfg["noise"], seed=seed))
    return stack


def build_augmenter(cfg: dict, seed: int) -> keras.Sequential:
    """Photometric changes (`photometric_layers`), flip, rotation, shear, zoom, shifts and random
    erasing, all set by `train.augment`.

    Inputs are (N, 48, 48, 1) floats in [0, 1]; random erasing (Zhong et al.) fills one patch of
    2-25 % of the image with mid-grey, with probability `random_erasing`.
    """
    stack: list[keras.layers.Layer] = photometric_layers(cfg, seed)
    if cfg.get("horizontal_flip"):
        stack.append(keras.layers.RandomFlip("horizontal", seed=seed))
    if cfg.get("rotation"):
        stack.append(keras.layers.RandomRotation(cfg["rotation"], fill_mode="nearest", seed=seed))
    if cfg.get("shear"):
        stack.append(keras.layers.RandomShear(x_factor=cfg["shear"], y_factor=0.0, fill_mode="nearest",
                                              seed=seed))
    if cfg.get("zoom"):
        stack.append(keras.layers.RandomZoom(cfg["zoom"], fill_mode="nearest", seed=seed))
    if cfg.get("shift"):
        stack.append(keras.layers.RandomTranslation(cfg["shift"], cfg["shift"], fill_mode="nearest", seed=seed))
    erase = float(cfg.get("random_erasing", 0.0))
    if erase > 0:
        # factor (p, p): erase with probability exactly p (a single float draws p from [0, p]);
        # mid-grey fill, since the layer's default noise (N(0, 1)) leaves the [0, 1] input range
        stack.append(keras.layers.RandomErasing(factor=(erase, erase), scale=(0.02, 0.25), fill_value=0.5,
                                                value_range=(0.0, 1.0), seed=seed))
    return keras.Sequential(stack or [keras.layers.Identity()], name="augment")  # all off: identity


def build_training_augmenter(cfg: dict, seed: int) -> keras.Sequential:
    """`train.augment` as both trainers run it. With `fused_affine`, rotation, shear, zoom and shift
    are one affine resampling per image (`emoscan.training.nets.affine`); without, Keras' four image
    layers resample the face four times, and the bilinear blur compounds: a trained width-2.0 network
    scores 0.66 on such training images against 0.77 with the fused resampling."""
    if cfg.get("fused_affine"):
        return build_fused_augmenter(cfg, seed)
    return build_augmenter(cfg, seed)


def build_fused_augmenter(cfg: dict, seed: int) -> keras.Sequential:
    """`train.augment` as one RandomAffine, then build_augmenter's photometric changes, flip and
    random erasing."""
    geometric = {k: float(cfg.get(k, 0.0) or 0.0) for k in ("rotation", "shear", "zoom", "shift")}
    rest = {k: v for k, v in cfg.items() if k not in geometric}
    return keras.Sequential([RandomAffine(**geometric, seed=seed), build_augmenter(rest, seed)], name="augment_fused")


def make_dataset(x, y, batch_size: int, num_classes: int, *, training: bool = False,
                 augment_cfg: dict | None = None, seed: int = 0) -> tf.data.Dataset:
    """tf.data batches of ((N, 48, 48, 1) float in [0, 1], targets); shuffled and augmented when
    training. `y` holds class indices (one-hot encoded here) or (N, classes) soft targets.
    TensorFlow backend only (the JAX trainer feeds arrays)."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if training:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    soft = getattr(y, "ndim", 1) == 2
    ds = ds.map(lambda a, b: (tf.cast(a, tf.float32)[..., None] / 255.0,
                              tf.cast(b, tf.float32) if soft else tf.one_hot(b, num_classes)),
                num_parallel_calls=tf.data.AUTOTUNE)
    if training and augment_cfg:
        augmenter = build_training_augmenter(augment_cfg, seed)
        ds = ds.map(lambda a, b: (augmenter(a, training=True), b), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)
