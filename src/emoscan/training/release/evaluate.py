"""Evaluate stage: the serving bundle written by the export stage (int8 graph, class offsets),
run through the serving classifier, on the test split: metrics without test-time augmentation
and with the bundle's (the headline), confusion matrix, DVC metrics/plots files, all logged to
the training run in MLflow. Validation-split accuracy and macro-F1 are written too, with the class
offsets cross-fitted (each half calibrated on the other) so that they stay out-of-sample: the
register stage selects on them, and no choice ever looks at the test split. When
`evaluate.real_photos` names a folder of whole photos, the bundle is also scored end to end on them
(`emoscan.training.release.real_photos`); the model card shows that figure beside FER-2013's."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix

from emoscan.data.split import load_split
from emoscan.inference.analyzer import FaceAnalyzer
from emoscan.inference.classifier import EmotionClassifier
from emoscan.labels import CLASSES
from emoscan.settings import InferenceSettings
from emoscan.training.common.artifacts import RUN_ID_FILE, TRAINING_LOG, TRAINING_PLOT
from emoscan.training.common.plots import plot_confusion_matrix
from emoscan.training.release.calibration import cross_fitted_probabilities, fit_kwargs
from emoscan.training.common.scoring import classification_metrics, per_class_table, predict_probabilities
from emoscan.training.common.tracking import setup_tracking
from emoscan.training.release.real_photos import score_folder

log = logging.getLogger(__name__)


def evaluate_predictions(y_true: np.ndarray, probs_by_mode: dict[str, np.ndarray], out: Path,
                         classes: tuple[str, ...] = CLASSES, title: str = "FER-2013 test") -> dict:
    """Write metrics.json, predictions.csv, confusion matrices and per-class tables for each mode
    (`title` names the data in the plots)."""
    out.mkdir(parents=True, exist_ok=True)
    metrics: dict = {}
    key_mode: dict[str, str] = {}
    for mode, probs in probs_by_mode.items():
        y_pred = probs.argmax(axis=1)
        key = "plain" if mode == "none" else f"tta_{mode}"
        key_mode[key] = mode
        metrics[key] = classification_metrics(y_true, y_pred, classes)
        matrix = confusion_matrix(y_true, y_pred, labels=list(range(len(classes))))
        plot_confusion_matrix(matrix, list(classes), out / f"confusion_matrix_{key}.png",
                              f"{title} ({key}): accuracy {metrics[key]['accuracy']:.4f}")
        (out / f"per_class_{key}.md").write_text(per_class_table(metrics[key]) + "\n")
        pd.DataFrame({"actual": [classes[i] for i in y_true], "predicted": [classes[i] for i in y_pred]}
                     ).to_csv(out / f"predictions_{key}.csv", index=False)
    # headline numbers: the best mode the params ask for
    headline_key = next(reversed(metrics))
    headline = metrics[headline_key]
    # stable names for `dvc plots` whatever the TTA setting
    shutil.copy(out / f"predictions_{headline_key}.csv", out / "predictions.csv")
    shutil.copy(out / f"confusion_matrix_{headline_key}.png", out / "confusion_matrix.png")
    # `tta` is the test-time augmentation behind the headline; the register stage serves with it
    metrics.update(headline=headline_key, tta=key_mode[headline_key], accuracy=headline["accuracy"], macro_f1=headline["macro_f1"], images=int(len(y_true)), test_images=int(len(y_true)))
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics


def evaluate(params: dict) -> dict:
    """Run the evaluate stage on the exported bundle; log to the training run in MLflow."""
    cfg, train_dir = params["evaluate"], Path(params["train"]["output_dir"])
    bundle, offsets_cfg = Path(params["export"]["output_dir"]), params["export"]["class_offsets"]
    classes, split = tuple(params["classes"]), cfg.get("split", "test")
    served = EmotionClassifier(bundle)
    x_test, y_test = load_split(params["split"]["output_dir"], split)
    modes = ["none"] + ([served.tta] if served.tta != "none" else [])
    # each mode through the serving classifier (its TTA, then the class offsets), as served
    probs = {m: predict_probabilities(EmotionClassifier(bundle, tta=m).predict, x_test, "none") for m in modes}
    out = Path(cfg["output_dir"])
    title = f"{params['register']['model_name']} {'validation' if split == 'val' else split}"
    metrics = evaluate_predictions(y_test, probs, out, classes, title)
    # validation figures for the register stage's choice, out-of-sample for the offsets fitted on it
    x_val, y_val = load_split(params["split"]["output_dir"], "val")
    raw = predict_probabilities(EmotionClassifier(bundle, calibrated=False).predict, x_val, "none")
    if served.class_offsets is None:
        validation = [classification_metrics(y_val, raw.argmax(axis=1), classes)]
    else:  # one halving's figure swings by +-1.5 points of macro-F1: the mean of several
        validation = [classification_metrics(y_val, cross_fitted_probabilities(
            raw, y_val, seed=params["split"]["seed"] + i, **fit_kwargs(offsets_cfg)).argmax(axis=1), classes)
            for i in range(offsets_cfg["halvings"])]
    metrics.update(val_accuracy=float(np.mean([v["accuracy"] for v in validation])),
                   val_macro_f1=float(np.mean([v["macro_f1"] for v in validation])),
                   val_offsets=f"cross-fitted, mean of {len(validation)} halvings" if served.class_offsets is not None
                   else "none")
    photos = real_photos(bundle, cfg.get("real_photos", ""))
    if photos:
        metrics["real_photos"] = photos
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))

    setup_tracking(params["mlflow"])
    run_id = (train_dir / RUN_ID_FILE).read_text().strip()
    with mlflow.start_run(run_id=run_id):
        for key in [k for k in metrics if isinstance(metrics[k], dict) and k != "real_photos"]:
            mlflow.log_metrics({f"{split}_{key}_accuracy": metrics[key]["accuracy"],
                                f"{split}_{key}_macro_f1": metrics[key]["macro_f1"],
                                f"{split}_{key}_weighted_f1": metrics[key]["weighted_f1"]})
            mlflow.log_metrics({f"{split}_{key}_f1_{c}": v["f1-score"] for c, v in metrics[key]["per_class"].items()})
        if photos:
            mlflow.log_metrics({"real_photos_accuracy": photos["accuracy"], "real_photos_macro_f1": photos["macro_f1"]})
        mlflow.log_metrics({f"{split}_accuracy": metrics["accuracy"], f"{split}_macro_f1": metrics["macro_f1"],
                            "val_accuracy_final": metrics["val_accuracy"], "val_macro_f1": metrics["val_macro_f1"]})
        mlflow.log_artifacts(str(out), artifact_path="evaluation")
        for name in (TRAINING_LOG, TRAINING_PLOT):
            if (train_dir / name).exists():
                mlflow.log_artifact(str(train_dir / name))
    return metrics


def real_photos(bundle: Path, folder: str) -> dict | None:
    """The bundle end to end on the whole photos of `folder` (`evaluate.real_photos`) with the
    serving defaults, or None when no folder is set or it is absent (a log line says so)."""
    if not folder:
        return None
    if not Path(folder).is_dir():
        log.info("evaluate.real_photos: %s is absent; the real-photo figures are left out", folder)
        return None
    analyzer = FaceAnalyzer(EmotionClassifier(bundle, threads=2), InferenceSettings())
    photos = score_folder(analyzer, Path(folder), CLASSES)
    log.info("real photos (%s, %d): accuracy %.4f, macro-F1 %.4f", folder, photos["photos"], photos["accuracy"],
             photos["macro_f1"])
    return photos
