"""The whole path, image in and faces with emotions out: emoscan's served path
(`EmotionRecognizer().detect_emotions`, v12) with each face detector named by --detectors, beside
the `fer` package (its own Haar-cascade detector and TFLite mini-Xception, `FER()` as shipped), on
the same images:

- a 640x480 photo with one face (skimage's astronaut) and a 1920x1080 picture with six copies of
  her face at 120-320 px: median milliseconds per image over --repeats calls;
- FER-2013 test faces (the split stage's test array: run `dvc repro split`) upscaled to 144, 192
  and 240 px on grey 640x480 canvases: faces found (a detection whose centre is in the face's
  square), false detections, and accuracy / macro-F1 over every face placed (a missed face counts as
  wrong) and over the faces found.

`fer` needs OpenCV 4's Haar cascades (OpenCV 5 wheels have none), so it runs in its own virtual
environment, `benchmarks/.fer-venv`, made on first use with pip (fer 25.10.3 and OpenCV 4 from
PyPI; TensorFlow and the rest are taken from this environment):

    python benchmarks/bench_end_to_end.py [--faces 300] [--repeats 30] [--detectors yunet_s yuface] [--no-fer]
"""

from __future__ import annotations

import argparse
import json
import site
import statistics
import subprocess
import tempfile
import venv
from pathlib import Path

import cv2
import numpy as np

from _machine import cpu_description
from _media import face_frame
from _timed_sets import analyse_sets
from emoscan.api import EmotionRecognizer
from emoscan.data.split import load_split
from emoscan.labels import CLASSES
from emoscan.settings import load_params
from emoscan.training.common.scoring import classification_metrics

HERE = Path(__file__).resolve().parent
FER_VENV = HERE / ".fer-venv"
FER_PACKAGES = ["fer==25.10.3", "opencv-python-headless<5"]
Placed = list[tuple[int, int, int]]  # faces placed on a canvas: x, y, size


def group_picture() -> np.ndarray:
    """1920x1080 BGR: six copies of the astronaut's face, 120 to 320 px wide, on grey."""
    from skimage import data

    head = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)[30:210, 150:300]
    canvas = np.full((1080, 1920, 3), 128, np.uint8)
    for k, width in enumerate((120, 160, 200, 240, 280, 320)):
        tile = cv2.resize(head, (width, round(width * head.shape[0] / head.shape[1])), interpolation=cv2.INTER_AREA)
        x, y = 40 + k * 300, 150 + (k % 2) * 450
        canvas[y:y + tile.shape[0], x:x + tile.shape[1]] = tile
    return canvas


def fer_scenes(faces: np.ndarray, seed: int = 0) -> tuple[np.ndarray, list[Placed]]:
    """Each 48x48 face upscaled to 144, 192 or 240 px at a random place of a grey 640x480 BGR canvas."""
    rng = np.random.default_rng(seed)
    images, placed = [], []
    for i, face in enumerate(faces):
        size = (144, 192, 240)[i % 3]
        x, y = int(rng.integers(0, 640 - size)), int(rng.integers(0, 480 - size))
        canvas = np.full((480, 640), 128, np.uint8)
        canvas[y:y + size, x:x + size] = cv2.resize(face, (size, size), interpolation=cv2.INTER_CUBIC)
        images.append(cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR))
        placed.append([(x, y, size)])
    return np.stack(images), placed


def score_faces(detections: list[list[tuple[list[int], dict[str, float]]]], placed: list[Placed],
                labels: np.ndarray) -> dict[str, float]:
    """Faces found, false detections and accuracy / macro-F1 over all faces and over found faces,
    from each image's (box, probabilities by class name) detections."""
    found, false, predicted = 0, 0, []
    for faces, squares in zip(detections, placed):
        x, y, size = squares[0]
        hits = [probs for (bx, by, bw, bh), probs in faces if x <= bx + bw / 2 <= x + size and y <= by + bh / 2 <= y + size]
        false += len(faces) - len(hits)
        found += bool(hits)
        predicted.append(CLASSES.index(max(hits[0], key=hits[0].get)) if hits else -1)
    predicted = np.asarray(predicted)
    everything = classification_metrics(labels, predicted)  # a missed face (-1) is wrong
    seen = predicted >= 0
    found_only = classification_metrics(labels[seen], predicted[seen])
    return {"found": found, "placed": len(placed), "false": false, "accuracy": everything["accuracy"],
            "macro_f1": everything["macro_f1"], "accuracy_found": found_only["accuracy"],
            "macro_f1_found": found_only["macro_f1"]}


def run_emoscan(sets: dict[str, np.ndarray], repeats: int, detector: str) -> dict[str, dict]:
    # yuface as it was served: on one thread (its OpenMP pool spin-waits, 10x slower with two)
    recognizer = EmotionRecognizer(detector=detector, **({"detector_threads": 1} if detector == "yuface" else {}))
    return analyse_sets(sets, recognizer.detect_emotions, lambda face: (face.box.to_list(), face.probabilities), repeats)


def fer_python() -> Path:
    """The fer virtual environment's python, made on first use."""
    python = FER_VENV / "bin" / "python"
    if not python.exists():
        print(f"making {FER_VENV} for the fer package ({', '.join(FER_PACKAGES)}) ...", flush=True)
        venv.create(FER_VENV, with_pip=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", *FER_PACKAGES], check=True)
        purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                 check=True, capture_output=True, text=True).stdout.strip()
        # TensorFlow, numpy and the rest come from this environment, after the venv's own OpenCV 4
        (Path(purelib) / "emoscan_env.pth").write_text(site.getsitepackages()[0] + "\n")
    return python


def run_fer(sets: dict[str, np.ndarray], repeats: int) -> dict[str, dict]:
    with tempfile.TemporaryDirectory() as tmp:
        np.savez(Path(tmp) / "images.npz", **sets)
        subprocess.run([str(fer_python()), str(HERE / "_fer_worker.py"), str(Path(tmp) / "images.npz"),
                        str(Path(tmp) / "out.json"), str(repeats)], check=True, stderr=subprocess.DEVNULL)
        return json.loads((Path(tmp) / "out.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=300, help="FER-2013 test faces")
    parser.add_argument("--repeats", type=int, default=30, help="timed calls per picture")
    parser.add_argument("--detectors", nargs="+", default=["yunet_s", "yuface"],
                        help="emoscan's face detectors to run (yuface, served up to 2026-11-28: pip install yuface)")
    parser.add_argument("--no-fer", action="store_true", help="emoscan only")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    x, y = load_split(load_params(args.params)["split"]["output_dir"], "test")
    pick = np.random.default_rng(0).permutation(len(x))[:args.faces]
    canvases, placed = fer_scenes(x[pick])
    sets = {"photo_640": face_frame()[None], "group_1080": group_picture()[None], "fer_faces": canvases}
    runs = {f"emoscan, {name} + v12": run_emoscan(sets, args.repeats, name) for name in args.detectors}
    if not args.no_fer:
        runs["fer 25.10.3 (Haar cascade + mini-Xception, TFLite)"] = run_fer(sets, args.repeats)
    print(f"CPU: {cpu_description()}; {args.faces} FER-2013 test faces; median of {args.repeats} calls per picture")
    print("| | 640x480, 1 face | 1920x1080, 6 faces | faces found | false detections "
          "| accuracy / macro-F1, all faces | same, faces found |\n|---|---:|---:|---:|---:|---:|---:|")
    for name, run in runs.items():
        s = score_faces(run["fer_faces"]["faces"], placed, y[pick])
        found_faces = [len(run[k]["faces"][0]) for k in ("photo_640", "group_1080")]
        ms = [1000 * statistics.median(run[k]["seconds"]) for k in ("photo_640", "group_1080")]
        print(f"| {name} | {ms[0]:.1f} ms ({found_faces[0]} found) | {ms[1]:.1f} ms ({found_faces[1]} found) "
              f"| {s['found']}/{s['placed']} | {s['false']} | {s['accuracy']:.4f} / {s['macro_f1']:.4f} "
              f"| {s['accuracy_found']:.4f} / {s['macro_f1_found']:.4f} |")


if __name__ == "__main__":
    main()
