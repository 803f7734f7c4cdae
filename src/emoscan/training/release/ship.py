"""Ship stage: the exported bundle, its evaluation and its model card, written where the package
loads shipped models (`src/emoscan/models/emoscan-NAME/`, kept in git by the stage's `cache: false`),
so that `dvc status` knows when a shipped model is stale and `dvc repro` refreshes it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx

from emoscan.hardware import cpu_kind
from emoscan.training.common.artifacts import EXPORT_REPORT, LABELS_FILE, ONNX_FILE, PREPROCESSING_FILE
from emoscan.training.release.cost import bundle_ms_per_face, multiply_adds
from emoscan.training.common.scoring import per_class_table

CARD_TEMPLATE = Path(__file__).with_name("model_card.md")
#: the bundle files the service reads, copied from the export stage
BUNDLE_FILES = (ONNX_FILE, LABELS_FILE, PREPROCESSING_FILE, EXPORT_REPORT)
SUMMARY = {
    "fer2013": "The default model: seven emotions, FER-2013's labels, the most accurate of the three.",
    "fer2013-fast": "Seven emotions at a fraction of `fer2013`'s time per face, a few points less accurate: "
                    "for many faces or small CPUs.",
    "ferplus": "Eight emotions (contempt added), learnt from the distribution of ten annotators' votes per "
               "face (FER+), which makes its labels cleaner than FER-2013's.",
}
DATA = {
    "fer2013": "FER-2013 (Goodfellow et al., 2013): {train} training, {val} validation (a stratified "
               "split of the training part) and {test} test images; validated by Great Expectations",
    "ferplus": "FER+ (Barsoum et al., 2016): {train} FER2013Train and {val} FER2013Valid images with a "
               "majority emotion, vote distributions as targets; validated by Great Expectations",
}


def graph_parameters(onnx_path: Path) -> int:
    """Weights in the graph's initializers (int8 weights counted once, not their scales)."""
    graph = onnx.load(str(onnx_path)).graph
    return int(sum(int(np.prod(w.dims)) for w in graph.initializer if len(w.dims) > 1))


def made_words(train: dict, summary: dict) -> str:
    """How the network was made, from the train section and the train stage's summary."""
    if train["epochs"] == 0:
        parts = [f"`{train['init_from']}`"]
        if train["soup_with"]:
            parts[0] += f" souped with {len(train['soup_with'])} warm restarts"
        if train["ensemble_with"]:
            parts.append(" and ".join(f"`{p}`" for p in train["ensemble_with"]))
        return "assembled from " + ", averaged with ".join(parts) + " (the networks' stages in dvc.yaml)"
    words = f"{summary.get('epochs', train['epochs'])} epochs of {train['optimizer']} on the CPU"
    if train["init_from"]:
        words += f" from `{train['init_from']}`"
        if train["soup_with"]:
            words += f" souped with {len(train['soup_with'])} warm restarts"
    if train["distill_from"]:
        words += ", distilled from " + ", ".join(f"`{p}`" for p in train["distill_from"])
    if train["ensemble_with"]:
        words += ", then averaged with " + " and ".join(f"`{p}`" for p in train["ensemble_with"])
    return words


def rare_words(metrics: dict, classes: list[str]) -> str:
    """The rarest evaluated classes and their support, as the limits section's last line."""
    support = {c: int(metrics["per_class"][c]["support"]) for c in classes}
    rare = sorted(support, key=support.get)[:2]
    return (f"{rare[0].capitalize()} ({support[rare[0]]} evaluated faces) and {rare[1]} ({support[rare[1]]}) "
            "are the rarest classes: their figures rest on few faces.")


def real_photo_words(metrics: dict) -> str:
    """The card's section on whole photos (the evaluate stage's `real_photos`), or nothing."""
    photos = metrics.get("real_photos")
    if not photos:
        return ""
    recall = ", ".join(f"{c} {v:.2f}" for c, v in photos["recall"].items())
    return (f"\n### Whole photos\n{photos['photos']} posed photos of whole heads (`{photos['folder']}`, a development "
            "set never trained on), end to end as served: each photo framed by a grey border, every face found, "
            f"the largest classified. Accuracy **{photos['accuracy']:.4f}**, macro-F1 **{photos['macro_f1']:.4f}**, "
            f"faces found {photos['faces_found']}/{photos['photos']}; recall: {recall}. Posed photos of one "
            "database: an indication of the gap between FER-2013's crops and users' photos, not a guarantee.\n")


def render_card(params: dict, metrics: dict, split_report: dict, registration: dict, summary: dict,
                dest: Path) -> str:
    """The model card of the bundle in `dest`, from the params and the stages' reports."""
    name, train, classes = params["model"], params["train"], list(params["classes"])
    split = params["evaluate"]["split"]
    counts = {k: sum(v.values()) if isinstance(v, dict) else v for k, v in split_report["counts"].items()}
    headline = metrics[metrics["headline"]]
    rows = [f"| {'test' if split == 'test' else 'validation (majority vote)'} | {metrics['images']} "
            f"| **{metrics['accuracy']:.4f}** | **{metrics['macro_f1']:.4f}** |"]
    if split == "test":
        rows.append(f"| validation | {counts.get('val', '')} | {metrics['val_accuracy']:.4f} | {metrics['val_macro_f1']:.4f} |")
    onnx_path = dest / ONNX_FILE
    export_report = json.loads((dest / EXPORT_REPORT).read_text())
    return CARD_TEMPLATE.read_text().format(
        name=name, version=f"v{params['version']}", summary=SUMMARY.get(name, ""), classes=", ".join(classes),
        architecture=train["architecture"], parameters=graph_parameters(onnx_path), made=made_words(train, summary),
        quantization="int8" if export_report.get("int8") else "float32", tta=metrics.get("tta", "none"),
        data=DATA[params["data"]["labels"]].format(**{k: counts.get(k, 0) for k in ("train", "val", "test")}),
        run_id=registration["run_id"], registry_version=registration["version"],
        rare=rare_words(headline, classes),
        split_words=("FER-2013's test split, used once" if split == "test" else
                     "FER2013Valid (FER+ has no other held-out split here, so these figures are slightly optimistic)"),
        results_rows="\n".join(rows), per_class=per_class_table(headline), confusion="confusion_matrix.png",
        real_photos=real_photo_words(metrics),
        size_mb=onnx_path.stat().st_size / 1e6, macs=round(multiply_adds(onnx_path) / 1e6),
        ms=bundle_ms_per_face(dest), cpu=cpu_kind())


def ship(params: dict) -> dict:
    """Copy the exported bundle and its evaluation into `ship.output_dir`, write model_info.json and
    MODEL_CARD.md; return model_info.json's content."""
    export, evaluation = Path(params["export"]["output_dir"]), Path(params["evaluate"]["output_dir"])
    metrics = json.loads((evaluation / "metrics.json").read_text())
    registration = json.loads((Path(params["register"]["output_dir"]) / "registration.json").read_text())
    summary = json.loads((Path(params["train"]["output_dir"]) / "train_summary.json").read_text())
    split_report = json.loads((Path(params["split"]["output_dir"]) / "split_report.json").read_text())
    dest = Path(params["ship"]["output_dir"])
    shutil.rmtree(dest, ignore_errors=True)  # nothing of an earlier bundle stays beside the new one
    dest.mkdir(parents=True)
    for name in BUNDLE_FILES:
        shutil.copy(export / name, dest / name)
    shutil.copy(evaluation / "metrics.json", dest / "metrics.json")
    shutil.copy(evaluation / "confusion_matrix.png", dest / "confusion_matrix.png")
    info = {"name": f"emoscan-{params['model']}", "version": params["version"], "run_id": registration["run_id"],
            "registry_version": registration["version"], "architecture": params["train"]["architecture"],
            "accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"], "evaluated_on": params["evaluate"]["split"],
            "tta": metrics.get("tta", "none")}
    (dest / "model_info.json").write_text(json.dumps(info, indent=2) + "\n")
    (dest / "MODEL_CARD.md").write_text(render_card(params, metrics, split_report, registration, summary, dest))
    return info
