"""End to end on real photos of whole faces, as a user meets emoscan: each photo of FOLDER/<class>/
framed by a grey border of a quarter of its width and height, every face found, the largest scored;
a photo without a face, or a face given a class outside the seven (ferplus' contempt), counts wrong.

For each model: faces found, accuracy, macro-F1, per-class recall, the confusion matrix and the
median milliseconds per photo (detection and classification, batch 1).

    python benchmarks/bench_real_photos.py FOLDER [--model fer2013 ferplus fer2013-fast PATH ...]
        [--set face_crop_scale=0.8 ...] [--tta flip] [--prior-power 0.5] [--json OUT.json]

`--set` overrides inference settings by name (emoscan.settings.InferenceSettings), for every model.
The photos are research data: read from FOLDER, never copied into the project.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import numpy as np
import yaml

import emoscan
from _machine import cpu_description
from emoscan.labels import CLASSES
from emoscan.training.release import real_photos


def load_photos(folder: Path) -> tuple[list[np.ndarray], np.ndarray, list[str]]:
    """The framed photos of FOLDER/<class>/ for the seven classes (emoscan.training.release.real_photos)."""
    try:
        return real_photos.load_photos(folder, CLASSES)
    except FileNotFoundError as exc:
        raise SystemExit(str(exc)) from None


def prior_offsets(power: float) -> np.ndarray:
    """-power * log(FER-2013's training class shares): a prior correction (logit adjustment) that
    leans towards the classes training saw rarely (the shares: params.yaml's expected distribution)."""
    shares = yaml.safe_load(open("params.yaml"))["datasets"]["fer2013"]["validate"]["expected_distribution"]
    return -power * np.log(np.array([shares[c] for c in CLASSES]))


def score_model(model: str, photos: list[np.ndarray], labels: np.ndarray, overrides: dict,
                tta: str | None = None, prior_power: float = 0.0) -> dict:
    """The end-to-end figures of one model over the photos (`tta`: the bundle's own test-time
    augmentation unless "none" or "flip" is given; `prior_power`: a prior correction of a
    seven-class model's probabilities; both for a measurement)."""
    recognizer = emoscan.EmotionRecognizer(model, **overrides)
    if tta:
        recognizer.analyzer.classifier.tta = tta  # EmotionClassifier's own override (its `tta` argument)
    if prior_power and tuple(recognizer.labels) == CLASSES:
        recognizer.analyzer.classifier.class_offsets = prior_offsets(prior_power)  # as a bundle's class_log_offsets
    recognizer.detect_emotions(photos[0])  # warm-up: ONNX Runtime's first run allocates
    seconds: list[float] = []  # each photo timed on its own, as a user's calls are
    predicted, found = real_photos.predict_photos(recognizer.analyzer, photos, CLASSES, seconds)
    return {"model": model, "version": recognizer.source.version,
            **real_photos.photo_metrics(labels, predicted, found, CLASSES),
            "ms_per_photo": 1000 * statistics.median(seconds), "predicted": predicted.tolist()}


def print_result(r: dict) -> None:
    print(f"\n{r['model']} ({r['version']}): accuracy {r['accuracy']:.4f}, macro-F1 {r['macro_f1']:.4f}, "
          f"faces found {r['faces_found']}/{r['photos']}, {r['ms_per_photo']:.1f} ms per photo (median)")
    print("recall: " + ", ".join(f"{c} {v:.2f}" for c, v in r["recall"].items()))
    header = "true \\ predicted"
    print(f"{header:<17}" + "".join(f"{c[:8]:>9}" for c in (*CLASSES, "other")))
    for name, row in zip(CLASSES, r["confusion"]):
        print(f"{name:<17}" + "".join(f"{v:>9}" for v in row))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="photos in FOLDER/<class>/ for the seven FER-2013 classes")
    parser.add_argument("--model", nargs="+", default=["fer2013", "fer2013-fast", "ferplus"])
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="inference settings overrides")
    parser.add_argument("--tta", choices=("none", "flip"), help="test-time augmentation instead of the bundle's")
    parser.add_argument("--prior-power", type=float, default=0.0, metavar="TAU",
                        help="offsets -TAU*log(training class shares) on seven-class models' probabilities")
    parser.add_argument("--json", type=Path, help="also write every figure (and each photo's prediction) here")
    args = parser.parse_args()
    overrides = {key: yaml.safe_load(value) for key, value in (item.split("=", 1) for item in args.set)}
    photos, labels, names = load_photos(args.folder)
    print(f"CPU: {cpu_description()}")
    print(f"{len(photos)} photos of {args.folder}: " + ", ".join(f"{c} {int((labels == i).sum())}" for i, c in enumerate(CLASSES)))
    if overrides:
        print(f"inference overrides: {overrides}")
    results = []
    for model in args.model:
        results.append(score_model(model, photos, labels, overrides, args.tta, args.prior_power))
        print_result(results[-1])
    print("\n| model | accuracy | macro-F1 | fear recall | disgust recall | faces found | ms per photo |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['model']} {r['version']} | {r['accuracy']:.4f} | {r['macro_f1']:.4f} | {r['recall']['fear']:.2f} "
              f"| {r['recall']['disgust']:.2f} | {r['faces_found']}/{r['photos']} | {r['ms_per_photo']:.1f} |")
    if args.json:
        args.json.write_text(json.dumps({"photos": names, "labels": labels.tolist(), "results": results}))


if __name__ == "__main__":
    main()
