"""Ship a trained model: copy the serving bundle, the Keras weights (FER-2013) and the evaluation
into `src/emoscan/models/emoscan-fer2013/`, `src/emoscan/models/emoscan-ferplus/` or `src/emoscan/models/emoscan-fer2013-fast/`
(committed to git) and write its model card.

    python -m emoscan.training.release.ship [--params params.yaml] [--dest src/emoscan/models/emoscan-fer2013]
    python -m emoscan.training.release.ship --params ferplus/params.yaml --dest src/emoscan/models/emoscan-ferplus
    python -m emoscan.training.release.ship --params fast/params.yaml --dest src/emoscan/models/emoscan-fer2013-fast
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import keras

from emoscan.settings import labels_of, load_params
from emoscan.training.artifacts import (BEST_MODEL, EXPORT_REPORT, LABELS_FILE, ONNX_FILE, PREPROCESSING_FILE,
                                        TRAINING_PLOT, provenance_of)
from emoscan.training.release.cost import cost_words
from emoscan.training.scoring import per_class_table
from emoscan.training.tracking import setup_tracking

CARD = """# {name} — model card

{purpose}Facial expression classifier for 48x48 grayscale face crops; 7 classes (angry, disgust, fear,
happy, neutral, sad, surprise). Served with ONNX Runtime (`model.onnx`, {quantization}). The
float32 network is a DVC output of the pipeline (`{network}`) and an MLflow
artefact of its run, not a file in git: `dvc repro {pipeline}` rebuilds it.

## Data
FER-2013 (Goodfellow et al., 2013) as the Kaggle image-folder download: {train} training and
{val} validation images (a stratified {val_pct:.0%} of the training part, split by unique image,
seed {seed}; {dups} training images identical to test images removed) and {test} test images
(the PublicTest part in the archive used here). Validated by the Great Expectations suite.

## Recipe
{recipe} Checkpoint, early stopping and learning-rate schedule use the
validation split only, and so does the register stage's choice of champion
(`register.metric`); the test split is used once, by the evaluate stage.

Reproduce: {reproduce} MLflow run `{run_id}`, registered as version {version}
in the training machine's MLflow store.
Export (`export_report.json`): {export_note} Served with the test-time augmentation the headline uses
(`test_time_augmentation` in `preprocessing.json`).

Cost: {cost}

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


FERPLUS_CARD = """# emoscan-ferplus — model card

Facial expression classifier for 48x48 grayscale face crops; 8 classes ({classes}), learnt from
the distribution of ten annotators' votes per face. Served with ONNX Runtime (`model.onnx`,
{quantization}). The float32 network is a DVC output of the FER+ pipeline, not a file in git:
`dvc repro ferplus/dvc.yaml` rebuilds it.

## Data
FER+ (Barsoum et al., 2016): FER-2013's images relabelled by ten annotators each, in Microsoft
FERPlus's layout. Training: FER2013Train ({train} images with a majority emotion; {dups} training
images whose pixels are also validation images removed). Validation: FER2013Valid ({val} images
with a majority emotion), which are FER-2013's PublicTest images. Targets are each image's vote
distribution over the eight emotions, single votes dropped as outliers (FERPlus's rule); images
whose most-voted column is a tie, "unknown" or "not a face" are left out of training and of the
figures. The FER+ test split (FER-2013's PrivateTest images) was not used at any step. Validated
by the Great Expectations suite over the votes.

## Recipe
{recipe} Checkpoint, early stopping and the register stage's choice of champion use the
validation split; there is no other held-out split here, so the figures below are validation
figures and slightly optimistic.

Reproduce: {reproduce} MLflow run `{run_id}`, registered as version {version} of
`emoscan-ferplus` in the training machine's MLflow store.
Export (`export_report.json`): {export_note}

Cost: {cost}

## Validation results (FER2013Valid, majority vote; evaluate stage, this bundle as served)
Accuracy **{acc:.4f}**, macro-F1 **{f1:.4f}**.

{table}

![confusion matrix](confusion_matrix.png)

![training curves](training_plot.png)

## Intended use and limits
- For research and demos of expression recognition on frontal faces; not for decisions about
  people (hiring, policing, health, emotion "truth"): an expression is not a feeling.
- Input is a 48x48 grayscale crop: colour is discarded, small or profile faces lose detail.
- FER-2013's images were collected by web image search: posed and exaggerated expressions,
  mostly adult faces of lighter skin; accuracy differs across ages, skin tones and cultures and
  was not measured per group here.
- Contempt ({contempt} validation images) and disgust ({disgust}) are rare: their figures rest on
  few faces.
"""


def trained_here_recipe(params: dict, model: keras.Model, epochs: int, policy: str | None = None) -> str:
    """The train section's recipe, in words (a network trained by this pipeline's train stage);
    `policy`: the dtype policy the run chose (train_summary.json's "precision"), where it says."""
    t, a = params["train"], params["train"]["augment"]
    policy = policy or ("mixed_bfloat16" if t.get("mixed_precision") is True else "float32")
    precision = "mixed bfloat16 compute (float32 weights)" if policy == "mixed_bfloat16" else "float32"
    return (f"Architecture `{t['architecture']}` ({model.count_params():,} parameters), {epochs} epochs of"
            f" {t['optimizer']} (lr {t['learning_rate']}, {t['lr_schedule']} schedule), batch {t['batch_size']},"
            f" {precision}, label smoothing {t['label_smoothing']}, class weights (inverse"
            f" frequency)^{t.get('class_weight_power', 0)}, augmentation: {augmentation_words(a)}."
            f"{warm_start_note(t, epochs)}{distill_note(t)}{ensemble_note(t.get('ensemble_with', []))}")


def distill_note(t: dict) -> str:
    """A sentence on the teachers the train section `t` distilled from (`train.distill_from`), if any."""
    if not t.get("distill_from"):
        return ""
    teachers = ", ".join(f"`{p}`" for p in t["distill_from"])
    return (f" Knowledge distillation: the targets were the labels (weight {t['distill_alpha']}) mixed with the"
            f" flip-averaged probabilities of {teachers} (temperature {t['distill_temperature']}), computed once"
            " on the un-augmented training images.")


def augmentation_words(a: dict) -> str:
    """`train.augment` in words."""
    resampling = " (the geometric part as one fused affine resampling)" if a.get("fused_affine") else ""
    return (f"rotation ±{a['rotation'] * 360:.0f}°, shear {a['shear']}, zoom {a['zoom']}, shifts {a['shift']},"
            f" horizontal flip, random erasing p={a['random_erasing']}{resampling}")


def member_words(path: str, origin: dict | None) -> str | None:
    """One averaged network in words, from its provenance (`provenance_of(path)`; None without one):
    the recipe and run of a network trained by `emoscan.training.fit.accelerated`, else its path."""
    if origin is None:
        return None
    if origin.get("role") == "soup":
        return soup_file_words(path, origin)
    if "recipe" not in origin:
        return f"`{path}`"
    r = origin["recipe"]
    start = f", from `{r['init_from']}`" if r.get("init_from") else ""
    return (f"`{path}`: {r.get('optimizer', 'sgd')} lr {r.get('learning_rate')}, batch {r.get('batch_size')},"
            f" dropout scale {r.get('dropout_scale', 1.0)}, seed {r.get('seed')}{start}, {origin['epochs']} epochs"
            f" in {origin['minutes']:.1f} min on {origin['device']} (validation accuracy {origin['val_accuracy']:.4f})")


def network_words(path: str, origin: dict | None) -> str:
    """`member_words`, or the bare path for a network without a provenance file."""
    return member_words(path, origin) or f"`{path}`"


def soup_file_words(path: str, origin: dict) -> str:
    """A soup saved as one network (`python -m emoscan.training.fit.soup`) in words, with its ingredients."""
    parts = [network_words(i["path"], i["provenance"]) for i in origin["ingredients"]]
    return (f"`{path}`, a model soup (`emoscan.training.fit.soup`, saved by `{origin['command']}`): the weights of"
            f" {len(parts)} networks sharing the starting point `{origin['init_from']}` averaged, then the"
            f" BatchNorm statistics re-estimated on {origin['soup_batchnorm_images']} training images"
            f" (validation accuracy {origin['val_accuracy']:.4f}). Its ingredients: " + "; ".join(parts))


def distillation_words(students: list[dict]) -> str:
    """How the students among the averaged networks were distilled, and their teachers, in words."""
    d = students[0]["distill"]
    teachers = list(dict.fromkeys(t for s in students for t in s["teachers"]))
    warm = all(s["recipe"].get("init_from") for s in students)
    return (f" The students were distilled ({d['mode']}: the teachers run on every augmented training batch;"
            f" loss α·cross-entropy + (1−α)·T²·KL(teacher‖student), α={d['alpha']}, T={d['temperature']}) from"
            f" the average of {len(teachers)} teachers{', each warm-started from one of them' if warm else ''}"
            f" (`python -m emoscan.training.fit.accelerated --student NAME`, `accelerated.students` and"
            f" `accelerated.teachers` in `params.yaml`). The teachers: "
            + "; ".join(network_words(t, provenance_of(t)) for t in teachers) + ".")


def assembled_recipe(params: dict, model: keras.Model) -> str:
    """`train.epochs: 0`: the networks averaged (in weights: a soup; in probabilities: an ensemble),
    trained elsewhere, from their provenance files."""
    t, a = params["train"], params["train"]["augment"]
    members = [t["init_from"], *t.get("ensemble_with", [])]
    networks = [t["init_from"], *t.get("soup_with", []), *t.get("ensemble_with", [])]
    origins = [provenance_of(m) for m in networks]  # each JSON read once
    described = [words for words in map(member_words, networks, origins) if words]
    students = [o for o in origins if o and o.get("role") == "students"]
    head = (f"An average of {len(members)} `{t['architecture']}` networks ({model.count_params():,} parameters in"
            " all) in one ONNX graph" if len(members) > 1 else
            f"One `{t['architecture']}` network ({model.count_params():,} parameters)")
    return (f"{head}, trained by `python -m emoscan.training.fit.accelerated` (Keras 3 on JAX on a"
            f" GPU, or on TensorFlow on the CPU; each JSON file says where) with `params.yaml`'s"
            f" `accelerated` overrides of the train recipe: warm-up then a cosine schedule fitted to a"
            f" time budget, best epoch on validation accuracy, mixed bfloat16 compute, label smoothing"
            f" {t['label_smoothing']}, class weights (inverse frequency)^{t.get('class_weight_power', 0)},"
            f" augmentation: {augmentation_words(a)}."
            + soup_words(t, len(members)) + " The networks: " + "; ".join(described) + "."
            + (distillation_words(students) if students else "")
            + " The train stage (`train.epochs: 0`) assembles them without training.")


def soup_words(t: dict, members: int) -> str:
    """A sentence on the model soup of `train.init_from` and `train.soup_with`, if there is one."""
    if not t.get("soup_with"):
        return ""
    return (f" {'Its first' if members > 1 else 'The'} network is a model soup (`train.soup_with`,"
            f" `emoscan.training.fit.soup`): the weights of {len(t['soup_with']) + 1} networks that share a starting"
            f" point (`{t['init_from']}` and its warm restarts) averaged, then the BatchNorm statistics"
            f" re-estimated on {t['soup_batchnorm_images']} training images.")


def warm_start_note(t: dict, epochs: int) -> str:
    """A sentence on the weights the train section `t` started from (`init_from`, or its soup with
    `soup_with`), with their provenance when a file beside them has it."""
    init_from = t.get("init_from", "")
    if not init_from:
        return ""
    if t.get("soup_with"):
        return (f" Training started from a model soup (`emoscan.training.fit.soup`): the averaged weights of `{init_from}`"
                f" and its {len(t['soup_with'])} warm restarts in `train.soup_with`, BatchNorm statistics"
                f" re-estimated on {t['soup_batchnorm_images']} training images.")
    origin = provenance_of(init_from)
    if origin is None or "reproduce" not in origin:  # no file, or a network of emoscan.training.fit.accelerated
        described = network_words(init_from, origin)
        return f" Training started from the weights of {described}, a warm restart with a fresh schedule."
    return (f" Training started from the weights in `{init_from}` ({origin['model']}, {origin['epochs']} epochs in all,"
            f" initialisation: {origin['initialisation']}; reproduce it with `{origin['reproduce']}`), a warm"
            f" restart with a fresh schedule: {origin['epochs'] + epochs} epochs in all.")


def ensemble_note(members: list[str]) -> str:
    """A sentence on the committed models averaged with the trained network (train.ensemble_with)."""
    if not members:
        return ""
    described = []
    for member in members:
        origin = provenance_of(member)
        if origin is None or "reproduce" not in origin:  # no file, or a network or soup trained elsewhere
            described.append(network_words(member, origin))
        else:
            described.append(f"`{member}` ({origin['model']}, {origin['epochs']} epochs; reproduce it with"
                             f" `{origin['reproduce']}`)")
    return (" The shipped model is an ensemble: it averages the class probabilities of the network trained"
            f" here and of {', '.join(described)}, all in one ONNX graph.")


def export_note(export_report: dict) -> str:
    """What the export stage did to the float32 network, in a sentence or two."""
    parts = [f"float32 ONNX graph equal to Keras within {export_report['float32_parity']['max_abs_diff']:.1e}."]
    if export_report.get("int8"):
        q = export_report["int8"]
        bits = {"signed7": "7-bit signed (|w| <= 64)", "signed8": "8-bit signed", "unsigned8": "8-bit unsigned"}
        parts.append(f"int8 static quantization (ONNX Runtime, {bits.get(q.get('weights', 'signed8'))} per-channel"
                     f" weights, ranges from {q['calibration_images']} training images): same top-1 class as"
                     f" float32 on {q['val_top1_agreement']:.1%} of validation images.")
        if "val_fused_exact_agreement" in q:
            parts.append(f"ONNX Runtime's fused integer kernels, as served, give the graph's exact arithmetic's"
                         f" top-1 class on {q['val_fused_exact_agreement']:.2%} of validation images (largest"
                         f" probability difference {q['val_fused_exact_max_abs_diff']:.3f}; {q['cpu']}); with"
                         f" weights within ±{q['saturation_free_weight']} no CPU's u8 x s8 kernels can"
                         f" saturate, so CPUs without VNNI answer the same.")
    if export_report.get("class_offsets"):
        offsets = ", ".join(f"{k} {v:+.1f}" for k, v in export_report["class_offsets"]["offsets"].items())
        parts.append(f"Class offsets on the log-probabilities, fitted on validation for macro-F1: {offsets}.")
    return " ".join(parts)


def ferplus_recipe(params: dict, model: keras.Model, epochs: int, minutes: float,
                   policy: str | None = None) -> tuple[str, str]:
    """The FER+ card's recipe and how to reproduce it: trained by its pipeline's train stage, or a
    network trained before (e.g. a soup saved as one) that the stage takes as it is (`train.epochs: 0`)."""
    t = params["train"]
    ship = "`python -m emoscan.training.release.ship --params ferplus/params.yaml --dest src/emoscan/models/emoscan-ferplus`."
    if t["epochs"]:
        return (trained_here_recipe(params, model, epochs, policy),
                f"`dvc repro ferplus/dvc.yaml` with the committed `ferplus/params.yaml` (2 CPU cores: about"
                f" {minutes:.0f} min of training), then {ship}")
    origin = provenance_of(t["init_from"])
    recipe = (f"One `{t['architecture']}` network ({model.count_params():,} parameters), taken as it is by"
              f" the train stage (`train.epochs: 0`): {network_words(t['init_from'], origin)}.")
    return recipe, (f"the networks as their provenance files say, their soup with `{(origin or {}).get('command', '')}`,"
                    f" then `dvc repro ferplus/dvc.yaml` with the committed `ferplus/params.yaml` and {ship}")


#: the opening line of a card, per registered model that needs one beside its data and recipe
PURPOSE = {"emoscan-fer2013-fast": "The fast FER-2013 model (`--model fer2013-fast`, `MODEL_PATH=fer2013-fast`): a"
           " width-1.0 student of `emoscan-fer2013` at an eighth of its multiply-adds per face, for many faces per"
           " frame or small CPUs.\n\n"}


def pipeline_of(params_path: str) -> str:
    """The dvc.yaml beside a params file: `dvc.yaml`, `ferplus/dvc.yaml`, `fast/dvc.yaml`."""
    return str(Path(params_path).parent / "dvc.yaml")


def ship_command(params_path: str, dest: Path) -> str:
    """The command that ships the model of `params_path` into `dest`."""
    args = "" if params_path == "params.yaml" else f" --params {params_path} --dest {dest}"
    return f"python -m emoscan.training.release.ship{args}"


def write_card(dest: Path, params: dict, metrics: dict, info: dict, report: dict, model: keras.Model,
               export_report: dict, params_path: str = "params.yaml") -> None:
    """Render MODEL_CARD.md from params, metrics, the split report and the export report."""
    t = params["train"]
    cost = cost_words(dest, model.count_params())
    headline = metrics[metrics["headline"]]
    counts = {s: sum(v for k, v in c.items() if k != "no_majority") for s, c in report["counts"].items()}
    minutes = info.get("train_minutes", 0)
    if labels_of(params) == "ferplus":
        recipe, reproduce = ferplus_recipe(params, model, info["epochs"], minutes, info.get("precision"))
    elif t["epochs"]:
        recipe = trained_here_recipe(params, model, info["epochs"], info.get("precision"))
        reproduce = (f"`dvc repro {pipeline_of(params_path)}` with the committed `{params_path}` (2 CPU cores:"
                     f" about {minutes:.0f} min of training), then `{ship_command(params_path, dest)}`.")
    else:
        recipe = assembled_recipe(params, model)
        reproduce = ("the networks: `python -m emoscan.training.fit.accelerated` (`KERAS_BACKEND=jax` on a GPU; their"
                     " JSON files say which run, device and budget); then `dvc repro` with the committed"
                     " `params.yaml` and `python -m emoscan.training.release.ship`.")
    if labels_of(params) == "ferplus":
        per_class = headline["per_class"]
        dest.joinpath("MODEL_CARD.md").write_text(FERPLUS_CARD.format(
            classes=", ".join(params["classes"]), train=counts["train"], val=counts["val"],
            dups=report["cross_split_duplicates"], recipe=recipe, reproduce=reproduce, run_id=info["run_id"],
            version=info["version"], export_note=export_note(export_report),
            quantization="int8" if export_report.get("int8") else "float32", acc=headline["accuracy"],
            f1=headline["macro_f1"], table=per_class_table(headline),
            contempt=int(per_class["contempt"]["support"]), disgust=int(per_class["disgust"]["support"]),
            cost=cost))
        return
    dest.joinpath("MODEL_CARD.md").write_text(CARD.format(
        name=info["name"], purpose=PURPOSE.get(info["name"], ""), cost=cost, network=f"{t['output_dir']}/{BEST_MODEL}",
        pipeline=pipeline_of(params_path), train=counts["train"], val=counts["val"], test=counts["test"], val_pct=params["split"]["val_fraction"],
        seed=params["split"]["seed"], dups=report["cross_split_duplicates"], recipe=recipe, reproduce=reproduce,
        run_id=info["run_id"],
        version=info["version"], tta=metrics.get("tta", "none"), export_note=export_note(export_report),
        quantization="int8" if export_report.get("int8") else "float32",
        val_offsets=metrics.get("val_offsets", "none"), acc=headline["accuracy"], f1=headline["macro_f1"],
        val_acc=metrics.get("val_accuracy", float("nan")), val_f1=metrics.get("val_macro_f1", float("nan")),
        acc_plain=metrics["plain"]["accuracy"], f1_plain=metrics["plain"]["macro_f1"], table=per_class_table(headline)))


def training_minutes(summary: dict, train_dir: Path, params: dict) -> float:
    """Wall-clock training time: from the train summary, else MLflow run start -> last log write."""
    if summary.get("train_minutes") or summary.get("epochs") == 0:  # 0 epochs: assembled, nothing trained here
        return float(summary.get("train_minutes", 0.0))
    import mlflow

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
    # the float32 network stays a DVC output (train.output_dir) and an MLflow artefact: the card
    # reads its size, the bundle serves the ONNX graph
    model = keras.saving.load_model(train_dir / BEST_MODEL, compile=False)
    shutil.copy(evaluation / "metrics.json", dest / "metrics.json")
    shutil.copy(evaluation / "confusion_matrix.png", dest / "confusion_matrix.png")
    shutil.copy(train_dir / TRAINING_PLOT, dest / "training_plot.png")
    info = {"name": registration["model_name"], "version": registration["version"], "run_id": registration["run_id"],
            "architecture": params["train"]["architecture"], "epochs": summary["epochs"],
            "init_from": params["train"].get("init_from", ""), "soup_with": params["train"].get("soup_with", []),
            "ensemble_with": params["train"].get("ensemble_with", []), "precision": summary.get("precision"),
            "accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"], "tta": metrics.get("tta", "none"),
            "quantization": "int8" if export_report.get("int8") else "float32",
            "train_minutes": training_minutes(summary, train_dir, params)}
    (dest / "model_info.json").write_text(json.dumps(info, indent=2))
    write_card(dest, params, metrics, info, report, model, export_report, params_path)
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--dest", type=Path, default=Path("src/emoscan/models/emoscan-fer2013"))
    args = parser.parse_args()
    info = ship(args.params, args.dest)
    print(f"shipped {info['name']} v{info['version']} to {args.dest}: accuracy {info['accuracy']:.4f}, "
          f"macro-F1 {info['macro_f1']:.4f}")


if __name__ == "__main__":
    main()
