"""Warm starts across label sets: a network trained on one set of classes (FER-2013's seven) starts
a network for another (FER+'s eight) of the same architecture and width."""

from __future__ import annotations

import keras
import numpy as np

from emoscan.labels import CLASSES


def start_weights(start: keras.Model, model: keras.Model, classes: tuple[str, ...],
                  provenance: dict | None = None) -> list[np.ndarray]:
    """`start`'s weights laid out for `model`. With the same outputs they are `start`'s own. With
    other classes, every layer but the last (the classifier) keeps `start`'s weights, and each
    class of `classes` takes the classifier column of the same name in `start`'s classes (from
    its provenance's "classes", else FER-2013's); a class `start` lacks starts from the mean column."""
    if start.output_shape[-1] == model.output_shape[-1] and (provenance or {}).get("classes") in (None, list(classes)):
        return start.get_weights()
    source_classes = tuple((provenance or {}).get("classes") or CLASSES)
    if start.output_shape[-1] != len(source_classes):
        raise ValueError(f"the warm start has {start.output_shape[-1]} outputs, its classes are {source_classes}")
    weights = start.get_weights()
    kernel, bias = weights[-2], weights[-1]
    mapped_kernel = np.empty((kernel.shape[0], len(classes)), kernel.dtype)
    mapped_bias = np.empty(len(classes), bias.dtype)
    for index, name in enumerate(classes):
        if name in source_classes:
            mapped_kernel[:, index] = kernel[:, source_classes.index(name)]
            mapped_bias[index] = bias[source_classes.index(name)]
        else:
            mapped_kernel[:, index] = kernel.mean(axis=1)
            mapped_bias[index] = bias.min()  # a new class starts unlikely
    return [*weights[:-2], mapped_kernel, mapped_bias]
