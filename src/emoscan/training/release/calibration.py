"""Class-offset calibration: one additive offset per class on the log-probabilities, fitted on the
validation split to maximise macro-F1.

A network trained on FER-2013's skewed classes (disgust is 1.5% of the images) under-predicts the
rare ones; shifting their log-probabilities is the cheapest fix (a prior correction) and costs
nothing at inference. The offsets are fitted by coordinate ascent over a grid, a few rounds over
the classes. `cross_fitted_probabilities` gives validation figures that stay out-of-sample.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import f1_score

from emoscan.settings import require
from emoscan.inference.classifier import apply_class_offsets


def check_offsets_params(cfg: dict) -> None:
    """Validate export.class_offsets with messages naming the key."""
    require(cfg, "fit", bool, where="export.class_offsets")
    require(cfg, "max_abs", (int, float), where="export.class_offsets", low=0.01, high=10)
    require(cfg, "step", (int, float), where="export.class_offsets", low=0.001, high=1)
    require(cfg, "rounds", int, where="export.class_offsets", low=1, high=20)
    require(cfg, "halvings", int, where="export.class_offsets", low=1, high=50)


def class_prior(labels: np.ndarray, classes: int) -> np.ndarray:
    """Each class's frequency among `labels` (class indices), every class counted at least once."""
    counts = np.maximum(np.bincount(labels, minlength=classes).astype(np.float64), 1.0)
    return counts / counts.sum()


def prior_offsets(prior: np.ndarray, power: float) -> np.ndarray:
    """Logit adjustment (Menon et al., 2021): offsets -power * log(prior), shifted to mean 0, so that
    argmax(log p + offsets) leans towards the classes that training saw rarely; zeros at power 0."""
    offsets = -power * np.log(prior)
    return offsets - offsets.mean()


def fit_kwargs(cfg: dict) -> dict:
    """fit_class_offsets' keyword arguments from export.class_offsets."""
    return {"max_abs": cfg["max_abs"], "step": cfg["step"], "rounds": cfg["rounds"]}


def _macro_f1(y: np.ndarray, log_probs: np.ndarray, offsets: np.ndarray) -> float:
    return float(f1_score(y, (log_probs + offsets).argmax(axis=1), labels=range(log_probs.shape[1]),
                          average="macro", zero_division=0))


def fit_class_offsets(probs: np.ndarray, y: np.ndarray, max_abs: float = 1.5, step: float = 0.1,
                      rounds: int = 3) -> np.ndarray:
    """Offsets (classes,) in [-max_abs, max_abs] that maximise macro-F1 of argmax(log p + offsets) on (probs, y).

    Coordinate ascent: each round tries every grid value for each class in turn, keeping the best;
    ties keep the current value, so an offset moves only when it helps.
    """
    log_probs = np.log(np.clip(probs, 1e-12, 1.0))
    grid = np.round(np.arange(-max_abs, max_abs + step / 2, step), 6)
    offsets = np.zeros(probs.shape[1])
    best = _macro_f1(y, log_probs, offsets)
    for _ in range(rounds):
        changed = False
        for c in range(len(offsets)):
            for value in grid:
                trial = offsets.copy()
                trial[c] = value
                score = _macro_f1(y, log_probs, trial)
                if score > best + 1e-12:
                    best, offsets, changed = score, trial, True
        if not changed:
            break
    return offsets


def cross_fitted_probabilities(probs: np.ndarray, y: np.ndarray, seed: int = 0, **fit_kwargs) -> np.ndarray:
    """Calibrated probabilities where each half of (probs, y) gets the offsets fitted on the other half
    (stratified), so that figures computed from them are out-of-sample."""
    rng = np.random.default_rng(seed)
    halves = np.zeros(len(y), dtype=bool)
    for c in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == c))
        halves[members[: len(members) // 2]] = True
    out = np.empty_like(probs, dtype=np.float32)
    for held_out in (halves, ~halves):
        offsets = fit_class_offsets(probs[~held_out], y[~held_out], **fit_kwargs)
        out[held_out] = apply_class_offsets(probs[held_out], offsets)
    return out
