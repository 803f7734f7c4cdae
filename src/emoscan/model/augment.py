"""Training-time augmentation as Keras preprocessing layers run inside tf.data, on batches, so the
exported model stays free of it and two CPU cores keep up with the network."""

from __future__ import annotations

import keras
import tensorflow as tf


def build_augmenter(cfg: dict, seed: int) -> keras.Sequential:
    """Rotation, shear, zoom, shifts and horizontal flip, all set by `train.augment`."""
    stack: list[keras.layers.Layer] = []
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
    return keras.Sequential(stack, name="augment")


def random_erasing(images: tf.Tensor, probability: float, max_area: float = 0.25) -> tf.Tensor:
    """Zhong et al. random erasing: with `probability`, blank one random rectangle per image."""
    if probability <= 0:
        return images
    shape = tf.shape(images)
    batch, height, width = shape[0], shape[1], shape[2]
    h_f, w_f = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
    area = tf.random.uniform([batch], 0.02, max_area) * h_f * w_f
    ratio = tf.exp(tf.random.uniform([batch], tf.math.log(0.3), tf.math.log(3.3)))
    eh = tf.minimum(tf.sqrt(area * ratio), h_f - 1)
    ew = tf.minimum(tf.sqrt(area / ratio), w_f - 1)
    y0 = tf.random.uniform([batch]) * (h_f - eh)
    x0 = tf.random.uniform([batch]) * (w_f - ew)
    rows = tf.cast(tf.range(height), tf.float32)[None, :, None]
    cols = tf.cast(tf.range(width), tf.float32)[None, None, :]
    inside = ((rows >= y0[:, None, None]) & (rows < (y0 + eh)[:, None, None])
              & (cols >= x0[:, None, None]) & (cols < (x0 + ew)[:, None, None]))
    apply = tf.random.uniform([batch]) < probability
    mask = tf.logical_and(inside, apply[:, None, None])[..., None]
    noise = tf.random.uniform(tf.shape(images), dtype=images.dtype)
    return tf.where(mask, noise, images)


def make_dataset(x, y, batch_size: int, num_classes: int, *, training: bool = False,
                 augment_cfg: dict | None = None, seed: int = 0) -> tf.data.Dataset:
    """Batches of ((N, 48, 48, 1) float in [0, 1], one-hot labels); shuffled and augmented when training."""
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if training:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    ds = ds.map(lambda a, b: (tf.cast(a, tf.float32)[..., None] / 255.0, tf.one_hot(b, num_classes)),
                num_parallel_calls=tf.data.AUTOTUNE)
    if training and augment_cfg:
        augmenter = build_augmenter(augment_cfg, seed)
        erase = float(augment_cfg.get("random_erasing", 0.0))
        ds = ds.map(lambda a, b: (random_erasing(augmenter(a, training=True), erase), b),
                    num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)
