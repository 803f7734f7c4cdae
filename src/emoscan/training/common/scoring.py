"""Scoring a network's predictions: class probabilities over a split (as served, test-time
augmentation included), scikit-learn metrics and their per-class table."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, classification_report, f1_score

from emoscan.inference.classifier import predict_with_tta
from emoscan.inference.preprocess import normalize
from emoscan.labels import CLASSES


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, classes: tuple[str, ...] = CLASSES) -> dict:
    """Accuracy, macro/weighted F1 and per-class precision/recall/F1/support (scikit-learn)."""
    labels = list(range(len(classes)))
    report = classification_report(y_true, y_pred, labels=labels, target_names=list(classes),
                                   output_dict=True, zero_division=0)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "weighted_f1": float(f1_score(y_true, y_pred, labels=labels, average="weighted", zero_division=0)),
        "per_class": {c: {k: float(report[c][k]) for k in ("precision", "recall", "f1-score", "support")}
                      for c in classes},
    }


def per_class_table(metrics: dict) -> str:
    """The per-class table as Markdown (the seed's format)."""
    lines = ["| class | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|"]
    for name, row in metrics["per_class"].items():
        lines.append(f"| {name} | {row['precision']:.3f} | {row['recall']:.3f} | {row['f1-score']:.3f} "
                     f"| {int(row['support'])} |")
    # the totals with four decimals, as the headline: rounded to three, 0.6996 would read as 70%
    lines.append(f"| **accuracy** | | | {metrics['accuracy']:.4f} | {sum(int(r['support']) for r in metrics['per_class'].values())} |")
    lines.append(f"| **macro F1** | | | {metrics['macro_f1']:.4f} | |")
    return "\n".join(lines)


def predict_probabilities(predict, x: np.ndarray, tta: str, batch_size: int = 256) -> np.ndarray:
    """Class probabilities from `predict` (batch of (N,48,48,1) floats -> (N, classes)), flip-averaged
    if asked. No images: `predict`'s own answer to an empty batch, with as many columns as its model
    has classes."""
    inputs = normalize(x)  # exactly as serving scales a face crop
    outputs = [predict_with_tta(predict, inputs[start:start + batch_size], tta)
               for start in range(0, len(inputs), batch_size)]
    return np.concatenate(outputs) if outputs else np.asarray(predict(inputs), np.float32)
