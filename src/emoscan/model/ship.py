"""Ship a trained model: copy the serving bundle, the Keras weights and the evaluation into
`models/emoscan-fer2013/` (committed to git) and write its model card.

    python -m emoscan.model.ship [--params params.yaml] [--dest models/emoscan-fer2013]
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import keras

from emoscan.config import load_params
from emoscan.model.evaluate import per_class_table
from emoscan.model.export import EXPORT_REPORT, LABELS_FILE, ONNX_FILE, PREPROCESSING_FILE
from emoscan.model.train import BEST_MODEL, TRAINING_PLOT

CARD = """# emoscan-fer2013 — model card

Facial expression classifier for 48x48 grayscale face crops; 7 classes (angry, disgust, fear,
happy, neutral, sad, surprise). Served with ONNX Runtime (`model.onnx`, {quantization});
`model.keras` holds the float32 weights for the pipeline (export, warm starts).

## Data
FER-2013 (Goodfellow et al., 2013) as the Kaggle image-folder download: {train} training and
{val} validation images (a stratified {val_pct:.0%} of the training part, split by unique image,
seed {seed}; {dups} training images identical to test images removed) and {test} test images
(the PublicTest part in the archive used here). Validated by the Great Expectations suite.

## Recipe
Architecture `{arch}` ({params_count:,} parameters), {epochs} epochs of {optimizer} (lr {lr},
{schedule} schedule), batch {batch}, {precision}, label smoothing {ls}, class weights (inverse frequency)^{cwp},
augmentation: rotation ±{rot_deg:.0f}°, shear {shear}, zoom {zoom}, shifts {shift}, horizontal
flip, random erasing p={erase}.{warm_start}{ensemble} Checkpoint, early stopping and learning-rate schedule use the
validation split only, and so does the register stage's choice of champion
(`register.metric`); the test split is used once, by the evaluate stage.

Reproduce: `dvc repro` with the committed `params.yaml` (2 CPU cores: about {minutes:.0f} min),
then `python -m emoscan.model.ship`. MLflow run `{run_id}`, registered as version {version}
in the training machine's MLflow store.
Export (`export_report.json`): {export_note} Served with the test-time augmentation the headline uses
(`test_time_augmentation` in `preprocessing.json`).

## Test-split results (evaluate stage: this bundle through the serving classifier, TTA `{tta}`)
Accuracy **{acc:.4f}**, macro-F1 **{f1:.4f}** (without TTA: accuracy {acc_plain:.4f}, macro-F1
{f1_plain:.4f}). Validation split, same TTA, class offsets {val_offsets}: accuracy {val_acc:.4f},
macro-F1 {val_f1:.4f}.

{table}

![confusion matrix](confusion_matrix.png)

![training curves](training_plot.png)

## Intended use and limits
- For research and demos of expression recognition on frontal faces; not for decisions about
  people (hiring, policing, health, emotion "truth"): an expression is not a feeling.
- Input is a 48x48 grayscale crop: colour is discarded, small or profile faces lose detail.
- FER-2013 was collected by web image search: posed and exaggerated expressions, mostly adult
  faces of lighter skin; accuracy differs across ages, skin tones and cultures and was not
  measured per group here.
- About 10% of FER-2013 labels are estimated to be wrong (human accuracy is about 65±5%);
  disgust has 1.5% of the training images and is the least reliable class.
"""


def warm_start_note(init_from: str, epochs: int) -> str:
    """A sentence on the weights training started from, with their provenance file when present."""
    if not init_from:
        return ""
    provenance = Path(init_from).with_suffix(".json")
    if not provenance.is_file():
        return f" Training started from the weights in `{init_from}`."
    origin = json.loads(provenance.read_text())
    return (f" Training started from the weights in `{init_from}` ({origin['model']}, {origin['epochs']} epochs in all,"
            f" initialisation: {origin['initialisation']}; reproduce it with `{origin['reproduce']}`), a warm"
            f" restart with a fresh schedule: {origin['epochs'] + epochs} epochs in all.")


def ensemble_note(members: list[str]) -> str:
    """A sentence on the committed models averaged with the trained network (train.ensemble_with)."""
    if not members:
        return ""
    described = []
    for member in members:
        provenance = Path(member).with_suffix(".json")
        origin = json.loads(provenance.read_text()) if provenance.is_file() else {}
        described.append(f"`{member}`" + (f" ({origin['model']}, {origin['epochs']} epochs; reproduce it with"
                                           f" `{origin['reproduce']}`)" if origin else ""))
    return (" The shipped model is an ensemble: it averages the class probabilities of the network trained"
            f" here and of {', '.join(described)}, all in one ONNX graph.")


def export_note(export_report: dict) -> str:
    """What the export stage did to the float32 network, in a sentence or two."""
    parts = [f"float32 ONNX graph equal to Keras within {export_report['float32_parity']['max_abs_diff']:.1e}."]
    if export_report.get("int8"):
        q = export_report["int8"]
        parts.append(f"int8 static quantization (ONNX Runtime, per-channel weights, ranges from"
                     f" {q['calibration_images']} training images): same top-1 class as float32 on"
                     f" {q['val_top1_agreement']:.1%} of validation images.")
    if export_report.get("class_offsets"):
        offsets = ", ".join(f"{k} {v:+.1f}" for k, v in export_report["class_offsets"]["offsets"].items())
        parts.append(f"Class offsets on the log-probabilities, fitted on validation for macro-F1: {offsets}.")
    return " ".join(parts)


def write_card(dest: Path, params: dict, metrics: dict, info: dict, report: dict, model: keras.Model,
               export_report: dict) -> None:
    """Render MODEL_CARD.md from params, metrics, the split report and the export report."""
    t, a = params["train"], params["train"]["augment"]
    headline = metrics[metrics["headline"]]
    counts = {s: sum(report["counts"][s].values()) for s in ("train", "val", "test")}
    dest.joinpath("MODEL_CARD.md").write_text(CARD.format(
        train=counts["train"], val=counts["val"], test=counts["test"], val_pct=params["split"]["val_fraction"],
        seed=params["split"]["seed"], dups=report["cross_split_duplicates"], arch=t["architecture"],
        params_count=model.count_params(), epochs=info["epochs"], optimizer=t["optimizer"], lr=t["learning_rate"],
        schedule=t["lr_schedule"], batch=t["batch_size"],
        precision="mixed bfloat16 compute (float32 weights)" if t.get("mixed_precision") else "float32",
        ls=t["label_smoothing"],
        cwp=t.get("class_weight_power", 0), rot_deg=a["rotation"] * 360, shear=a["shear"], zoom=a["zoom"],
        shift=a["shift"], erase=a["random_erasing"],
        warm_start=warm_start_note(t.get("init_from", ""), info["epochs"]),
        ensemble=ensemble_note(t.get("ensemble_with", [])), minutes=info.get("train_minutes", 0),
        run_id=info["run_id"],
        version=info["version"], tta=metrics.get("tta", "none"), export_note=export_note(export_report),
        quantization="int8" if export_report.get("int8") else "float32",
        val_offsets=metrics.get("val_offsets", "none"), acc=headline["accuracy"], f1=headline["macro_f1"],
        val_acc=metrics.get("val_accuracy", float("nan")), val_f1=metrics.get("val_macro_f1", float("nan")),
        acc_plain=metrics["plain"]["accuracy"], f1_plain=metrics["plain"]["macro_f1"], table=per_class_table(headline)))


def training_minutes(summary: dict, train_dir: Path, params: dict) -> float:
    """Wall-clock training time: from the train summary, else MLflow run start -> last log write."""
    if summary.get("train_minutes"):
        return float(summary["train_minutes"])
    import mlflow

    from emoscan.model.tracking import setup_tracking

    setup_tracking(params["mlflow"])
    start_ms = mlflow.get_run(summary["run_id"]).info.start_time
    return round(((train_dir / "training_log.csv").stat().st_mtime * 1000 - start_ms) / 60000, 1)


def ship(params_path: str, dest: Path) -> dict:
    """Copy the registered bundle and evaluation into `dest`; return model_info.json's content."""
    params = load_params(params_path)
    export = Path(params["export"]["output_dir"])
    train_dir = Path(params["train"]["output_dir"])
    evaluation = Path(params["evaluate"]["output_dir"])
    registration = json.loads((Path(params["register"]["output_dir"]) / "registration.json").read_text())
    export_report = json.loads((export / EXPORT_REPORT).read_text())
    metrics = json.loads((evaluation / "metrics.json").read_text())
    summary = json.loads((train_dir / "train_summary.json").read_text())
    report = json.loads((Path(params["split"]["output_dir"]) / "split_report.json").read_text())

    dest.mkdir(parents=True, exist_ok=True)
    for name in (ONNX_FILE, LABELS_FILE, PREPROCESSING_FILE, EXPORT_REPORT):
        shutil.copy(export / name, dest / name)
    model = keras.saving.load_model(train_dir / BEST_MODEL, compile=False)
    model.save(dest / "model.keras")  # weights without optimizer state
    shutil.copy(evaluation / "metrics.json", dest / "metrics.json")
    shutil.copy(evaluation / "confusion_matrix.png", dest / "confusion_matrix.png")
    shutil.copy(train_dir / TRAINING_PLOT, dest / "training_plot.png")
    info = {"name": registration["model_name"], "version": registration["version"], "run_id": registration["run_id"],
            "architecture": params["train"]["architecture"], "epochs": summary["epochs"],
            "ensemble_with": params["train"].get("ensemble_with", []),
            "accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"], "tta": metrics.get("tta", "none"),
            "quantization": "int8" if export_report.get("int8") else "float32",
            "train_minutes": training_minutes(summary, train_dir, params)}
    (dest / "model_info.json").write_text(json.dumps(info, indent=2))
    write_card(dest, params, metrics, info, report, model, export_report)
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--dest", type=Path, default=Path("models/emoscan-fer2013"))
    args = parser.parse_args()
    info = ship(args.params, args.dest)
    print(f"shipped {info['name']} v{info['version']} to {args.dest}: accuracy {info['accuracy']:.4f}, "
          f"macro-F1 {info['macro_f1']:.4f}")


if __name__ == "__main__":
    main()
