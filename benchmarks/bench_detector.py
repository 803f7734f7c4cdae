"""How many faces the detector finds in large images, and at what cost, for each detection size
(`inference.detection_max_side`: the longest side images are downscaled to before detection).

Each image is a grey canvas (12 Mpixel photo, 1080p and 720p frame, VGA frame) holding twelve
copies of the real face in skimage's astronaut photo, resized to a given size in pixels.

    python benchmarks/bench_detector.py [--sides 480 640 960 1280 0] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import cv2
import numpy as np

from _machine import cpu_description
from emoscan.inference.detector import FaceDetector
from emoscan.inference.settings import load_settings

# (canvas width, height, face size in pixels)
SCENES = [(4000, 3000, 150), (4000, 3000, 100), (1920, 1080, 80), (1920, 1080, 60), (1280, 720, 50), (640, 480, 40)]
FACES = 12


def astronaut_face() -> np.ndarray:
    """The face of skimage's astronaut photo, cropped with a margin (BGR)."""
    from skimage import data

    photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    box = FaceDetector(max_side=0).detect(photo)[0]
    pad = box.width // 3
    return photo[max(0, box.y - pad):box.y + box.height + pad, max(0, box.x - pad):box.x + box.width + pad]


def scene(face: np.ndarray, width: int, height: int, size: int) -> np.ndarray:
    """`FACES` copies of `face` (its height scaled to `size` px) in a grid on a grey canvas."""
    scale = size / face.shape[0]
    tile = cv2.resize(face, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    canvas = np.full((height, width, 3), 128, np.uint8)
    columns = 6
    step_x, step_y = width // columns, height // (FACES // columns)
    for i in range(FACES):
        x = (i % columns) * step_x + (step_x - tile.shape[1]) // 2
        y = (i // columns) * step_y + (step_y - tile.shape[0]) // 2
        canvas[y:y + tile.shape[0], x:x + tile.shape[1]] = tile
    return canvas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sides", type=int, nargs="+", default=[480, 640, 960, 1280, 0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    settings, _ = load_settings()
    face = astronaut_face()
    print(f"CPU: {cpu_description()}; detector threads {settings.detector_threads}; params: detection_max_side "
          f"{settings.detection_max_side}, live_detection_max_side {settings.live_detection_max_side}")
    header = " | ".join(f"{side or 'full'} px" for side in args.sides)
    print(f"| image | face px | {header} |\n|---|---:|" + "---:|" * len(args.sides))
    for width, height, size in SCENES:
        image = scene(face, width, height, size)
        cells = []
        for side in args.sides:
            detector = FaceDetector(settings.score_threshold, 0, side, settings.detector_threads, max_faces=100)
            found = len(detector.detect(image))
            times = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                detector.detect(image)
                times.append(time.perf_counter() - start)
            cells.append(f"{found}/{FACES}, {1000 * statistics.median(times):.0f} ms")
        print(f"| {width}x{height} | {size} | " + " | ".join(cells) + " |")
    print("(cells: faces found, median detection time per image)")


if __name__ == "__main__":
    main()
