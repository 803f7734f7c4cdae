"""Tilted faces: FER-2013 faces, upscaled 4x onto a grey canvas and rotated in the image plane, found
by the face detector and classified as served, with the crop rotated level by the detector's eye
landmarks never, always, or above a tilt (`inference.face_align_degrees`). Prints accuracy and
macro-F1 of the served bundle per tilt and their mean. Choose on the validation split.

    python benchmarks/bench_face_align.py [--split val] [--tilts 0 10 -10 20 -20 30] [--gates 0 5 8 12]
"""

from __future__ import annotations

import argparse

import numpy as np

from _fer_canvas import detected_faces, print_mean_table, score  # benchmarks/ is on sys.path
from emoscan.settings import load_params
from emoscan.data.split import load_split
from emoscan.inference.bundle import SHIPPED_MODEL_DIR
from emoscan.inference.classifier import EmotionClassifier
from emoscan.inference.detectors import make_detector
from emoscan.inference.preprocess import faces_to_batch
from emoscan.settings import load_settings

NEVER = 360.0  # no eye line tilts that far


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="val", choices=["val", "test"])
    parser.add_argument("--bundle", default=str(SHIPPED_MODEL_DIR))
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--tilts", type=float, nargs="+", default=[0, 10, -10, 20, -20, 30])
    parser.add_argument("--gates", type=float, nargs="+", default=[0, 5, 8, 12])
    args = parser.parse_args()
    x, y = load_split(load_params(args.params)["split"]["output_dir"], args.split)
    settings = load_settings().inference
    classifier = EmotionClassifier(args.bundle, threads=2)
    detector = make_detector(max_side=0, min_face_size=0)
    gates = {"never": NEVER, **{f"tilt >= {g:g} deg": g for g in args.gates}}
    scores: dict[str, list[tuple[float, float]]] = {name: [] for name in gates}
    found_counts = []
    for tilt in args.tilts:
        found, canvases, boxes = detected_faces(x, detector, upscale=4, degrees=tilt)
        found_counts.append(len(found))
        for name, gate in gates.items():
            batch = np.concatenate([faces_to_batch(c, [b], settings.face_crop_scale, gate)
                                    for c, b in zip(canvases, boxes)])
            scores[name].append(score(classifier, y[found], batch))

    print(f"{args.bundle}, FER-2013 {args.split} split ({len(x)} faces), face_crop_scale "
          f"{settings.face_crop_scale}; accuracy / macro-F1 per tilt of the face in the image")
    print("faces found per tilt: " + ", ".join(f"{t:+g} deg: {n}" for t, n in zip(args.tilts, found_counts)))
    print_mean_table("rotate the crop level", [f"{t:+g} deg" for t in args.tilts], scores)


if __name__ == "__main__":
    main()
