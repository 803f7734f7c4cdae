"""A second target for the same faces from another label set: FER+'s ten annotators relabelled
FER-2013's images, so a FER-2013 training face can learn from its FER-2013 label and from FER+'s
vote distribution at once (the recipe's `relabel_from` / `relabel_weight`). Faces are joined by
their pixels, nearest neighbour within a few grey levels: the Kaggle layout's FER-2013 images are
JPEG files, FER+'s are PNGs of the original pixels, so the same face differs by JPEG noise (a mean
absolute difference of about 1.3 grey levels)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from emoscan.data.split import load_targets

MAX_MEAN_DIFFERENCE = 3.0  # grey levels (0-255): the largest mean |difference| of one face's two copies
CHUNK = 2048               # faces compared at once (memory: CHUNK x the other split's faces)


def relabelled_targets(x: np.ndarray, y: np.ndarray, classes: list[str], other_dir: str | Path,
                       other_classes: list[str], weight: float) -> tuple[np.ndarray, int]:
    """Targets (N, classes): `(1 - weight)` x one-hot(`y`) + `weight` x the vote distribution that the
    split in `other_dir` (its train.npz, with `targets`) gives the same pixels, its classes mapped to
    `classes` by name (a class `classes` lacks, such as FER+'s contempt, is dropped and the rest
    renormalised). A face the other split lacks, or whose votes all fall on dropped classes, keeps
    its one-hot label. Returns the targets and how many faces were relabelled."""
    other_x, _, votes = load_targets(other_dir, "train")
    if votes is None:
        raise ValueError(f"{other_dir}/train.npz: no vote distributions (`targets`) to relabel with")
    shared = [c for c in other_classes if c in classes]
    if not shared:
        raise ValueError(f"no class in common between {classes} and {other_classes}")
    columns = [other_classes.index(c) for c in shared]
    mapped = np.zeros((len(votes), len(classes)), np.float32)
    mapped[:, [classes.index(c) for c in shared]] = votes[:, columns]
    mass = mapped.sum(axis=1, keepdims=True)
    targets = np.eye(len(classes), dtype=np.float32)[y]
    match = same_faces(x, other_x)
    relabelled = (match >= 0) & (mass[np.maximum(match, 0), 0] > 0)
    rows = match[relabelled]
    targets[relabelled] = (1.0 - weight) * targets[relabelled] + weight * mapped[rows] / mass[rows]
    return targets, int(relabelled.sum())


def same_faces(x: np.ndarray, other: np.ndarray) -> np.ndarray:
    """For each face of `x` (N, 48, 48) the index of the same face in `other`, or -1: the nearest
    neighbour on 8x8-pixel block means, kept when the whole faces' mean |difference| is at most
    MAX_MEAN_DIFFERENCE grey levels."""
    def blocks(faces: np.ndarray) -> np.ndarray:
        n, h, w = faces.shape
        return faces.astype(np.float32).reshape(n, h // 8, 8, w // 8, 8).mean(axis=(2, 4)).reshape(n, -1)

    theirs = blocks(other)
    their_norms = (theirs ** 2).sum(axis=1)
    match = np.full(len(x), -1)
    for start in range(0, len(x), CHUNK):
        ours = blocks(x[start:start + CHUNK])
        nearest = (their_norms[None, :] - 2.0 * ours @ theirs.T).argmin(axis=1)
        difference = np.abs(x[start:start + CHUNK].astype(np.float32) - other[nearest]).mean(axis=(1, 2))
        match[start:start + CHUNK] = np.where(difference <= MAX_MEAN_DIFFERENCE, nearest, -1)
    return match
