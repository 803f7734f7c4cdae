"""Faces found, false detections and time per image, for each face detector and detection size
(`inference.detector`, `inference.detection_max_side`), on the same sets of images:

- scales: FER-2013 validation faces, one per grey 640x480 canvas, at 96, 144 and 192 px, placed at
  random positions;
- small: the same faces at 24, 32 and 48 px (`inference.min_face_size` is 24) on 640x480 canvases;
- crowd: twelve FER faces of 100-140 px on one 1280x720 canvas;
- tilted: FER faces of 160 px turned by -30, -15, 15 and 30 degrees;
- dark / bright: the scales set at a quarter of its brightness / with its mid-tones lifted to white;
- 12 Mpixel: twelve copies of the face of skimage's astronaut photo, 150 and 100 px, on a 4000x3000
  canvas (group photos from a phone).

A face counts as found when a detection's centre lies inside its placed square; every other
detection is false. FER faces come from the split stage's validation array (run `dvc repro split`).

    python benchmarks/bench_detector.py [--detectors yuface:1280 yunet_s:1280 yunet_n:1280] [--faces 200]

A detector is NAME:SIDE (SIDE 0: full size). `yuface` needs `pip install yuface`.
"""

from __future__ import annotations

import argparse
import statistics
import time

import cv2
import numpy as np

from _machine import cpu_description
from emoscan.settings import load_params
from emoscan.data.split import load_split
from emoscan.inference.detectors import make_detector
from emoscan.settings import load_settings

Scene = tuple[np.ndarray, list[tuple[int, int, int]]]  # image, placed faces (x, y, size)


def paste(canvas: np.ndarray, face: np.ndarray, x: int, y: int, size: int) -> tuple[int, int, int]:
    """`face` (grey uint8) resized to `size` px at (x, y) of a grey canvas; returns its square."""
    canvas[y:y + size, x:x + size] = cv2.resize(face, (size, size), interpolation=cv2.INTER_CUBIC)
    return x, y, size


def one_face_set(faces: np.ndarray, rng: np.random.Generator, sizes: tuple[int, ...]) -> list[Scene]:
    """One face per grey 640x480 canvas at a random position, its size cycling through `sizes`."""
    scenes = []
    for i, face in enumerate(faces):
        size = sizes[i % len(sizes)]
        canvas = np.full((480, 640), 128, np.uint8)
        placed = paste(canvas, face, int(rng.integers(0, 640 - size)), int(rng.integers(0, 480 - size)), size)
        scenes.append((canvas, [placed]))
    return scenes


def crowd_set(faces: np.ndarray, rng: np.random.Generator) -> list[Scene]:
    scenes = []
    for start in range(0, len(faces) - 11, 12):
        canvas = np.full((720, 1280), 128, np.uint8)
        placed = []
        for k, face in enumerate(faces[start:start + 12]):
            size = int(rng.integers(100, 141))
            cx, cy = (k % 6) * 213 + 106, (k // 6) * 360 + 180
            x = int(np.clip(cx - size // 2 + rng.integers(-30, 31), 0, 1280 - size))
            y = int(np.clip(cy - size // 2 + rng.integers(-40, 41), 0, 720 - size))
            placed.append(paste(canvas, face, x, y, size))
        scenes.append((canvas, placed))
    return scenes


def tilted_set(faces: np.ndarray, rng: np.random.Generator) -> list[Scene]:
    scenes = []
    for i, face in enumerate(faces):
        canvas = np.full((480, 480), 128, np.uint8)
        placed = paste(canvas, face, 160, 160, 160)
        turn = cv2.getRotationMatrix2D((240, 240), (-30, -15, 15, 30)[i % 4], 1.0)
        scenes.append((cv2.warpAffine(canvas, turn, (480, 480), borderValue=128), [placed]))
    return scenes


def exposed(scenes: list[Scene], gain: float, gamma: float) -> list[Scene]:
    """The scenes with brightness x `gain` after a gamma curve (gamma < 1 lifts the mid-tones)."""
    lut = np.clip(255 * gain * (np.arange(256) / 255.0) ** gamma, 0, 255).astype(np.uint8)
    return [(lut[image], placed) for image, placed in scenes]


def astronaut_set() -> list[Scene]:
    from skimage import data

    photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)
    face = photo[30:210, 150:300]  # the astronaut's head with a margin
    scenes = []
    for size in (150, 100):
        canvas = np.full((3000, 4000), 128, np.uint8)
        placed = []
        for k in range(12):
            x, y = (k % 6) * 666 + 250, (k // 6) * 1500 + 600
            tile = cv2.resize(face, (size, round(size * face.shape[0] / face.shape[1])), interpolation=cv2.INTER_AREA)
            canvas[y:y + tile.shape[0], x:x + tile.shape[1]] = tile
            placed.append((x, y, max(tile.shape)))
        scenes.append((canvas, placed))
    return scenes


def score(detector, scenes: list[Scene]) -> tuple[int, int, int, float]:
    """(faces found, faces placed, false detections, median ms per image)."""
    found = false = total = 0
    times = []
    for image, placed in scenes:
        bgr = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        start = time.perf_counter()
        boxes = detector.detect(bgr)
        times.append(time.perf_counter() - start)
        hit = [False] * len(placed)
        for box in boxes:
            cx, cy = box.x + box.width / 2, box.y + box.height / 2
            inside = [i for i, (x, y, s) in enumerate(placed) if x <= cx <= x + s and y <= cy <= y + s]
            if inside:
                hit[inside[0]] = True
            else:
                false += 1
        found += sum(hit)
        total += len(placed)
    return found, total, false, 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detectors", nargs="+", default=["yuface:1280", "yunet_s:1280", "yunet_n:1280"])
    parser.add_argument("--faces", type=int, default=240, help="FER validation faces per set")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    settings = load_settings().inference
    x, _ = load_split(load_params(args.params)["split"]["output_dir"], "val")
    faces = x[np.random.default_rng(0).permutation(len(x))[:args.faces]]
    rng = np.random.default_rng(1)
    scales = one_face_set(faces, rng, (96, 144, 192))
    small = one_face_set(faces, np.random.default_rng(2), (24, 32, 48))  # its own draws: the other sets as before
    sets = {"scales": scales, "small": small, "crowd": crowd_set(faces, rng), "tilted": tilted_set(faces, rng),
            "dark": exposed(scales, 0.25, 1.0), "bright": exposed(scales, 1.0, 0.35), "12 Mpixel": astronaut_set()}
    print(f"CPU: {cpu_description()}; detector threads {settings.detector_threads}, score threshold "
          f"{settings.score_threshold}, min face size 0")
    print("| detector | " + " | ".join(sets) + " |\n|---|" + "---:|" * len(sets))
    for spec in args.detectors:
        name, _, side = spec.partition(":")
        detector = make_detector(name, score_threshold=settings.score_threshold, min_face_size=0,
                                 max_side=int(side or 0), threads=settings.detector_threads, max_faces=100)
        cells = []
        for scenes in sets.values():
            found, total, false, ms = score(detector, scenes)
            cells.append(f"{found}/{total}, {false} false, {ms:.1f} ms")
        print(f"| {spec} | " + " | ".join(cells) + " |")
    print("(cells: faces found / placed, false detections, median detection time per image)")


if __name__ == "__main__":
    main()
