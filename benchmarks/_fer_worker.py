"""Runs the `fer` package (its Haar-cascade detector and TFLite mini-Xception, as `FER()` ships)
on images handed over by bench_end_to_end.py, inside the virtual environment that script makes for
it. Not imported by emoscan.

    python _fer_worker.py IMAGES.npz OUT.json REPEATS
"""

import json
import sys

import numpy as np
from fer.fer import FER

from _timed_sets import analyse_sets


def main() -> None:
    images_file, out_file, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3])
    images = np.load(images_file)
    detector = FER()
    results = analyse_sets({name: images[name] for name in images.files}, detector.detect_emotions,
                           lambda face: ([int(v) for v in face["box"]], face["emotions"]), repeats)
    with open(out_file, "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main()
