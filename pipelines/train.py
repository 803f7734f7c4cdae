"""DVC stage `train`: fit the CNN chosen in params.yaml, logged as an MLflow run."""

import logging

from _common import run_stage

from emoscan.training.fit.train import train


def main(params: dict) -> None:
    summary = train(params)
    logging.info("best validation accuracy %.4f after %d epochs (MLflow run %s)",
                 summary["best_val_accuracy"], summary["epochs"], summary["run_id"])


if __name__ == "__main__":
    run_stage("train", main)
