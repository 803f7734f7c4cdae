"""Runs the `fer` package (its Haar-cascade detector and TFLite mini-Xception, as `FER()` ships)
on images handed over by bench_end_to_end.py, inside the virtual environment that script makes for
it. Not imported by emoscan.

    python _fer_worker.py IMAGES.npz OUT.json REPEATS
"""

import json
import sys
import time

import numpy as np
from fer.fer import FER


def main() -> None:
    images_file, out_file, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3])
    images = np.load(images_file)
    detector = FER()
    results = {}
    for name in images.files:  # every image once; a set of one image `repeats` times more, timed
        batch = images[name]
        faces = [[{"box": [int(v) for v in f["box"]], "emotions": f["emotions"]} for f in detector.detect_emotions(im)]
                 for im in batch]
        times = []
        for _ in range(repeats if len(batch) == 1 else 0):
            start = time.perf_counter()
            detector.detect_emotions(batch[0])
            times.append(time.perf_counter() - start)
        results[name] = {"faces": faces, "seconds": times}
    with open(out_file, "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main()
