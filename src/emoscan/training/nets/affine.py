"""Rotation, shear, zoom and shift as one affine resampling per image, in `keras.ops` only.

Keras' `RandomRotation`, `RandomShear`, `RandomZoom` and `RandomTranslation` each resample every
image through `jax.scipy.ndimage.map_coordinates` under JAX, which made one training step 130
times slower on an NVIDIA H200. Here the four transforms compose
into one 2x3 matrix per image and one bilinear lookup: four gathers of the flattened batch.
Used by both trainers with `train.augment.fused_affine: true`.
"""

from __future__ import annotations

import math

import keras
from keras import ops


def affine_resample(images, a, b, c, d, tx, ty):
    """Bilinear resampling of (N, H, W, C) `images`: output pixel (x, y), taken about the image
    centre, reads the input at (a*x + b*y + tx, c*x + d*y + ty) about the centre; per-image
    coefficients are (N,) tensors. Coordinates outside the image clamp to the nearest edge."""
    n = ops.shape(images)[0]
    h, w, channels = images.shape[1], images.shape[2], images.shape[3]
    ys, xs = ops.meshgrid(ops.arange(h, dtype="float32") - (h - 1) / 2,
                          ops.arange(w, dtype="float32") - (w - 1) / 2, indexing="ij")

    def per_image(v):
        return ops.reshape(ops.cast(v, "float32"), (-1, 1, 1))

    sx = ops.clip(per_image(a) * xs + per_image(b) * ys + per_image(tx) + (w - 1) / 2, 0.0, w - 1.0)
    sy = ops.clip(per_image(c) * xs + per_image(d) * ys + per_image(ty) + (h - 1) / 2, 0.0, h - 1.0)
    x0, y0 = ops.floor(sx), ops.floor(sy)
    wx, wy = sx - x0, sy - y0
    x1, y1 = ops.minimum(x0 + 1, w - 1.0), ops.minimum(y0 + 1, h - 1.0)
    flat = ops.reshape(ops.cast(images, "float32"), (n, h * w, channels))

    def pick(yy, xx):
        index = ops.cast(ops.reshape(yy * w + xx, (n, h * w, 1)), "int32")
        return ops.reshape(ops.take_along_axis(flat, ops.tile(index, (1, 1, channels)), axis=1), (n, h, w, channels))

    wx, wy = wx[..., None], wy[..., None]
    out = ((1 - wy) * ((1 - wx) * pick(y0, x0) + wx * pick(y0, x1))
           + wy * ((1 - wx) * pick(y1, x0) + wx * pick(y1, x1)))
    return ops.cast(out, images.dtype)


class RandomAffine(keras.layers.Layer):
    """Random rotation (fraction of a full turn), horizontal shear, zoom (fraction) and shift
    (fraction of the size), drawn per image and applied in one resampling; identity at inference."""

    def __init__(self, rotation: float = 0.0, shear: float = 0.0, zoom: float = 0.0, shift: float = 0.0,
                 seed: int | None = None, **kwargs):
        kwargs.setdefault("dtype", "float32")  # coordinates need float32 under mixed precision
        super().__init__(**kwargs)
        self.rotation, self.shear, self.zoom, self.shift, self.seed = rotation, shear, zoom, shift, seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=False):
        if not training:
            return images
        n = ops.shape(images)[0]
        h, w = images.shape[1], images.shape[2]

        def draw(limit):
            return keras.random.uniform((n,), -limit, limit, seed=self.seed_generator)

        theta, shear = draw(self.rotation) * 2 * math.pi, draw(self.shear)
        scale = 1.0 + draw(self.zoom)
        cos, sin = ops.cos(theta), ops.sin(theta)
        # source = scale * R(theta) @ [[1, shear], [0, 1]] @ output + shift
        return affine_resample(images, scale * cos, scale * (cos * shear - sin), scale * sin,
                               scale * (sin * shear + cos), draw(self.shift) * w, draw(self.shift) * h)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "rotation": self.rotation, "shear": self.shear, "zoom": self.zoom,
                "shift": self.shift, "seed": self.seed}
