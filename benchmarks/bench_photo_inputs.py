"""What a model makes of whole photos' faces, changed one way at a time, beside FER-2013 validation.

The faces of FOLDER/<class>/ are found and cropped once, as `bench_real_photos.py` frames them and
as serving crops them (the largest face, a square of `face_crop_scale` x the detector box, INTER_AREA
to 48x48; no alignment); then each model scores them unchanged and under each `--transform`:
blurring or resampling (does a soft FER-2013-like face suit the network better?), sharpening,
histogram equalisation and CLAHE, standardised contrast, JPEG, gamma, another crop or aspect. The
transforms that apply to any 48x48 face (equalisation, CLAHE, contrast, sharpening) are also scored
on FER-2013's validation split: the guard. Models are shipped bundles (int8 ONNX, as served) or
`.keras` networks (float32, e.g. an experiment's `models/NAME/train/model.keras` after
`dvc exp apply`).

    python benchmarks/bench_photo_inputs.py FOLDER [--model fer2013 PATH.keras ...] [--transform all]

The photos are research data: read from FOLDER, never copied into the project.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import yaml

from _machine import cpu_description
from bench_real_photos import load_photos
from emoscan.data.split import load_split
from emoscan.inference.detectors import make_detector
from emoscan.inference.preprocess import square_box, square_crop, to_gray
from emoscan.inference.classifier import apply_class_offsets
from emoscan.settings import InferenceSettings
from emoscan.training.release.calibration import cross_fitted_probabilities, fit_class_offsets, fit_kwargs
from emoscan.training.common.scoring import classification_metrics, predict_probabilities

EXPORT_OFFSETS = yaml.safe_load(Path("params.yaml").read_text())["export"]["class_offsets"]
MARGIN = 1.5  # crops are cut this times the box's side, so that any crop scale up to it fits inside


def face_regions(photos: list[np.ndarray], settings: InferenceSettings) -> list[np.ndarray]:
    """Each photo's largest face as a grey square of MARGIN x the detector box's longer side."""
    found = make_detector(settings.detector, score_threshold=settings.score_threshold,
                          min_face_size=settings.min_face_size, max_side=settings.detection_max_side, threads=2)
    regions = []
    for photo in photos:
        boxes = found.detect(photo)
        if not boxes:
            raise SystemExit("a photo without a face: this benchmark needs every face found (see bench_real_photos.py)")
        box = max(boxes, key=lambda b: b.width * b.height)
        regions.append(square_crop(to_gray(photo), square_box(box, MARGIN)))
    return regions


def cut(region: np.ndarray, scale: float, aspect: float = 1.0) -> np.ndarray:
    """The centre of `region` as serving crops at `scale` (x the box), `aspect` > 1 stretching it sideways."""
    side = region.shape[0] * scale / MARGIN
    width = side / aspect
    x0, y0 = round((region.shape[1] - width) / 2), round((region.shape[0] - side) / 2)
    return region[y0:y0 + round(side), x0:x0 + round(width)]


def to48(face: np.ndarray, interpolation: int = cv2.INTER_AREA) -> np.ndarray:
    return cv2.resize(face, (48, 48), interpolation=interpolation)


def sharpen(face: np.ndarray, amount: float) -> np.ndarray:
    blurred = cv2.GaussianBlur(face, (0, 0), 1.0)
    return np.clip(face.astype(np.float32) * (1 + amount) - amount * blurred, 0, 255).astype(np.uint8)


def standardise(face: np.ndarray, mean: float = 129.0, std: float = 65.0) -> np.ndarray:
    f = face.astype(np.float32)
    return np.clip((f - f.mean()) / (f.std() + 1e-6) * std + mean, 0, 255).astype(np.uint8)


def jpeg(face: np.ndarray, quality: int) -> np.ndarray:
    return cv2.imdecode(cv2.imencode(".jpg", face, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], cv2.IMREAD_GRAYSCALE)


def gamma(face: np.ndarray, g: float) -> np.ndarray:
    return np.clip(255.0 * (face / 255.0) ** g, 0, 255).astype(np.uint8)


CLAHE = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(4, 4))
# name -> (region -> 48x48 face, or None: the serving crop; a 48x48 -> 48x48 change also applied to
# FER-2013 validation, or None)
Transform = tuple[Callable[[np.ndarray], np.ndarray] | None, Callable[[np.ndarray], np.ndarray] | None]
TRANSFORMS: dict[str, Transform] = {
    "blur 0.7": (lambda r, s: cv2.GaussianBlur(to48(cut(r, s)), (0, 0), 0.7), None),
    "blur 1.0": (lambda r, s: cv2.GaussianBlur(to48(cut(r, s)), (0, 0), 1.0), None),
    "via 32 px": (lambda r, s: cv2.resize(cut(r, s), (32, 32), interpolation=cv2.INTER_AREA), None),
    "via 24 px": (lambda r, s: cv2.resize(cut(r, s), (24, 24), interpolation=cv2.INTER_AREA), None),
    "bilinear": (lambda r, s: to48(cut(r, s), cv2.INTER_LINEAR), None),
    "lanczos": (lambda r, s: to48(cut(r, s), cv2.INTER_LANCZOS4), None),
    "sharpen 0.5": (lambda r, s: sharpen(to48(cut(r, s)), 0.5), lambda f: sharpen(f, 0.5)),
    "sharpen 1.0": (lambda r, s: sharpen(to48(cut(r, s)), 1.0), lambda f: sharpen(f, 1.0)),
    "equalise": (lambda r, s: cv2.equalizeHist(to48(cut(r, s))), cv2.equalizeHist),
    "CLAHE": (lambda r, s: CLAHE.apply(to48(cut(r, s))), CLAHE.apply),
    "standardise": (lambda r, s: standardise(to48(cut(r, s))), standardise),
    "JPEG 40": (lambda r, s: jpeg(to48(cut(r, s)), 40), None),
    "gamma 0.8": (lambda r, s: gamma(to48(cut(r, s)), 0.8), None),
    "gamma 1.25": (lambda r, s: gamma(to48(cut(r, s)), 1.25), None),
    "aspect 0.9": (lambda r, s: to48(cut(r, s, 0.9)), None),
    "aspect 1.1": (lambda r, s: to48(cut(r, s, 1.1)), None),
    "aspect 1.2": (lambda r, s: to48(cut(r, s, 1.2)), None),
}


def predictor(model: str) -> Callable[[np.ndarray], np.ndarray]:
    """(N, 48, 48) uint8 -> probabilities: a shipped bundle's int8 graph or a .keras network (float32),
    in batches of 256 scaled as serving scales them (`predict_probabilities`)."""
    if model.endswith(".keras"):
        import keras

        import emoscan.training.nets  # noqa: F401  (registers the custom layers)

        network = keras.saving.load_model(model, compile=False)
        predict = lambda batch: network.predict(batch, verbose=0)  # noqa: E731
    else:
        from emoscan.inference.bundle import SHIPPED_MODELS
        from emoscan.inference.classifier import EmotionClassifier

        predict = EmotionClassifier(SHIPPED_MODELS.get(model, model), threads=2).predict
    return lambda faces: predict_probabilities(predict, faces, "none")


def row(name: str, model: str, labels: np.ndarray, probs: np.ndarray, val: dict | None) -> str:
    m = classification_metrics(labels, probs.argmax(1))
    recall = m["per_class"]
    guard = f"{val['accuracy']:.4f} | {val['macro_f1']:.4f}" if val else "| "
    return (f"| {model} | {name} | {m['accuracy']:.4f} | {m['macro_f1']:.4f} | {recall['fear']['recall']:.2f} "
            f"| {recall['disgust']['recall']:.2f} | {guard} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="photos in FOLDER/<class>/ for the seven FER-2013 classes")
    parser.add_argument("--model", nargs="+", default=["fer2013"], help="shipped names, bundle folders or .keras files")
    parser.add_argument("--transform", nargs="*", default=["all"], help=f"'all', 'none' or any of: {', '.join(TRANSFORMS)}")
    parser.add_argument("--crop-scale", type=float, nargs="+", default=[InferenceSettings().face_crop_scale])
    parser.add_argument("--split-dir", default="data/fer2013/processed", help="FER-2013 validation (the guard)")
    parser.add_argument("--fit-offsets", action="store_true",
                        help="also score with class offsets fitted on validation for macro-F1 (export.class_offsets.fit)")
    args = parser.parse_args()
    chosen = list(TRANSFORMS) if args.transform == ["all"] else [t for t in args.transform if t != "none"]
    photos, labels, _ = load_photos(args.folder)
    regions = face_regions(photos, InferenceSettings())
    x_val, y_val = load_split(args.split_dir, "val")
    print(f"CPU: {cpu_description()}\n{len(photos)} photos of {args.folder}; FER-2013 validation: {len(y_val)} faces")
    print("| model | input | accuracy | macro-F1 | fear | disgust | validation accuracy | validation macro-F1 |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for model in args.model:
        predict = predictor(model)
        val_probs = predict(x_val)
        val = classification_metrics(y_val, val_probs.argmax(1))
        served = {}
        for scale in args.crop_scale:
            served[scale] = predict(np.stack([to48(cut(r, scale)) for r in regions]))
            print(row(f"served (crop {scale:g})", model, labels, served[scale], val), flush=True)
        if args.fit_offsets:
            # the export stage's class_offsets.fit: chosen on validation alone, so its validation figure is in-sample
            offsets = fit_class_offsets(val_probs, y_val, **fit_kwargs(EXPORT_OFFSETS))
            shifted = classification_metrics(y_val, apply_class_offsets(val_probs, offsets).argmax(1))
            name = "offsets " + " ".join(f"{o:+.1f}" for o in offsets)
            print(row(name, model, labels, apply_class_offsets(served[args.crop_scale[0]], offsets), shifted),
                  flush=True)
            held_out = [classification_metrics(y_val, cross_fitted_probabilities(
                val_probs, y_val, seed=seed, **fit_kwargs(EXPORT_OFFSETS)).argmax(1)) for seed in (0, 1, 2)]
            print(f"  {model}: offsets fitted on one half of validation, scored on the other (3 splits): accuracy "
                  f"{min(m['accuracy'] for m in held_out):.4f}-{max(m['accuracy'] for m in held_out):.4f}, "
                  f"macro-F1 {min(m['macro_f1'] for m in held_out):.4f}-{max(m['macro_f1'] for m in held_out):.4f}")
        scale = args.crop_scale[0]
        for name in chosen:
            photo_change, face_change = TRANSFORMS[name]
            faces = np.stack([photo_change(r, scale) for r in regions])
            if faces.shape[1] != 48:
                faces = np.stack([to48(f, cv2.INTER_LINEAR) for f in faces])
            guard = None
            if face_change is not None:
                guard = classification_metrics(y_val, predict(np.stack([face_change(f) for f in x_val])).argmax(1))
            print(row(name, model, labels, predict(faces), guard), flush=True)


if __name__ == "__main__":
    main()
