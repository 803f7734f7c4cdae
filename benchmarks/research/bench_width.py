"""What a wider network costs to serve: `emoscan_vgg` at each `--widths` (filters multiplied; FLOPs
grow as the square), built with random weights (the cost does not depend on them), exported and
quantized to int8 as the export stage does, timed at batch 1 through the serving classifier.

    python benchmarks/research/bench_width.py [--widths 1.0 1.5 2.0] [--threads 2]

For planning what to train: an average of k width-1.0 networks costs k times the first row
(`select_ensemble.py --frontier` measures those with trained networks and their accuracy).
"""

from __future__ import annotations

import sys

import argparse
import tempfile
from pathlib import Path

from emoscan.settings import load_params
from emoscan.data.split import load_split
from emoscan.inference.classifier import EmotionClassifier
from emoscan.inference.preprocess import normalize
from emoscan.training.nets.architectures import build_model
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: the shared helpers
from _served import lowest_medians, served_int8  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widths", type=float, nargs="+", default=[1.0, 1.5, 2.0])
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime intra-op threads")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    params = load_params(args.params)
    x, _ = load_split(params["split"]["output_dir"], "val")
    counts, sizes, predicts = {}, {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for width in args.widths:
            model = build_model("emoscan_vgg", width=width)
            counts[width] = model.count_params()
            bundle = served_int8([model], params, Path(tmp) / str(width))
            sizes[width] = (bundle / "model.onnx").stat().st_size / 1e6
            predicts[width] = EmotionClassifier(bundle, threads=args.threads, tta="none").predict
        times = lowest_medians(predicts, normalize(x[:256]))
    print(f"emoscan_vgg, int8, batch 1, {args.threads} threads (lowest of five round-robin medians)")
    print("| width | parameters | int8 MB | ms/face |\n|---:|---:|---:|---:|")
    for width in args.widths:
        print(f"| {width:g} | {counts[width]:,} | {sizes[width]:.1f} | {times[width]:.2f} |")


if __name__ == "__main__":
    main()
