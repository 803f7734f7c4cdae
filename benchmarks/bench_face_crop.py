"""How to cut a detected face for the classifier: FER-2013 faces, upscaled onto a grey canvas, found
by the face detector and cropped as the serving path does, against classifying the 48x48 images
directly. Prints the detector box's median geometry relative to the FER crop, then accuracy and
macro-F1 of the served bundle for the box itself stretched to 48x48 (served until 2026-11-26) and
for square crops of several sizes (`inference.face_crop_scale`). Choose on the validation split.

    python benchmarks/bench_face_crop.py [--split val] [--scales 0.85 0.9 0.95 1.0 1.05] [--upscales 3 4 5]
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

from _fer_canvas import detected_faces, print_mean_table, score  # benchmarks/ is on sys.path
from emoscan.settings import load_params
from emoscan.data.split import load_split
from emoscan.inference.bundle import SHIPPED_MODEL_DIR
from emoscan.inference.classifier import EmotionClassifier
from emoscan.inference.detectors import make_detector
from emoscan.inference.preprocess import INPUT_SIZE, faces_to_batch, normalize
from emoscan.inference.types import Box


def stretched_box(gray: np.ndarray, box: Box) -> np.ndarray:
    """The box itself resized to 48x48, as the serving path cut faces until 2026-11-26."""
    crop = gray[max(0, box.y):box.y + box.height, max(0, box.x):box.x + box.width]
    return cv2.resize(crop, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_AREA)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="val", choices=["val", "test"])
    parser.add_argument("--bundle", default=str(SHIPPED_MODEL_DIR))
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--scales", type=float, nargs="+", default=[0.85, 0.9, 0.95, 1.0, 1.05])
    parser.add_argument("--upscales", type=int, nargs="+", default=[3, 4, 5],
                        help="FER face sizes on the canvas, in 48-px units (one placement each)")
    args = parser.parse_args()
    x, y = load_split(load_params(args.params)["split"]["output_dir"], args.split)
    classifier = EmotionClassifier(args.bundle, threads=2)
    detector = make_detector(max_side=0, min_face_size=0)

    rows: dict[str, list[tuple[float, float]]] = {}
    for upscale in args.upscales:
        found, canvases, boxes = detected_faces(x, detector, upscale)
        size = INPUT_SIZE * upscale
        geometry = np.median([[(b.x - size // 2) / size, (b.y - size // 2) / size, b.width / size,
                               b.height / size] for b in boxes], axis=0)
        print(f"{upscale}x ({size} px faces): found {len(found)} of {len(x)}; median box in units of the FER crop: "
              "left {:.3f}, top {:.3f}, width {:.3f}, height {:.3f}".format(*geometry))
        labels = y[found]
        crops = {"the 48x48 FER image itself (no detection)": normalize(x[found]),
                 "the detector box stretched to 48x48 (until 2026-11-26)":
                     normalize(np.stack([stretched_box(c, b) for c, b in zip(canvases, boxes)]))}
        for scale in args.scales:
            crops[f"square of {scale:g} x the box's longer side"] = np.concatenate(
                [faces_to_batch(c, [b], scale) for c, b in zip(canvases, boxes)])
        for name, batch in crops.items():
            rows.setdefault(name, []).append(score(classifier, labels, batch))

    print(f"\n{args.bundle}, FER-2013 {args.split} split, accuracy / macro-F1 per placement and their mean")
    print_mean_table("crop fed to the classifier", [f"{u}x" for u in args.upscales], rows)


if __name__ == "__main__":
    main()
