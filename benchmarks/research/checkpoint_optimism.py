"""How much keeping the best epoch flatters validation accuracy: for each training log (Keras
CSVLogger, one row per epoch), the best epoch's validation accuracy against the mean of the last
ten epochs, where the cosine schedule has annealed and the network has settled.

    python benchmarks/research/checkpoint_optimism.py models/warm_start/*_log.csv models/experiments/v10-gpu-distillation/*_log.csv
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd


def optimism(log: Path, tail: int = 10) -> dict:
    """Best, last-`tail`-mean and their difference of one log's `val_accuracy`."""
    val = pd.read_csv(log)["val_accuracy"]
    settled = float(val.tail(tail).mean())
    return {"log": log.name, "epochs": len(val), "best": float(val.max()), "settled": settled,
            "optimism": float(val.max()) - settled}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("logs", nargs="+", type=Path)
    parser.add_argument("--tail", type=int, default=10, help="epochs averaged at the end of each log")
    args = parser.parse_args()
    rows = [optimism(log, args.tail) for log in args.logs]
    print(f"| log | epochs | best val | mean of last {args.tail} | best - settled |\n|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['log']} | {r['epochs']} | {r['best']:.4f} | {r['settled']:.4f} | {r['optimism'] * 100:+.2f} pts |")
    mean = sum(r["optimism"] for r in rows) / len(rows)
    print(f"\nmean over {len(rows)} logs: {mean * 100:+.2f} points")


if __name__ == "__main__":
    main()
