"""DVC stage `evaluate`: accuracy, macro-F1, per-class table and confusion matrix on the test split."""

import logging

from _common import run_stage

from emoscan.training.release.evaluate import evaluate


def main(params: dict) -> None:
    metrics = evaluate(params)
    for key in ("plain", "tta_flip"):
        if key in metrics:
            logging.info("%s: accuracy %.4f, macro-F1 %.4f", key, metrics[key]["accuracy"], metrics[key]["macro_f1"])
    logging.info("validation (%s): accuracy %.4f, macro-F1 %.4f", metrics["tta"], metrics["val_accuracy"],
                 metrics["val_macro_f1"])


if __name__ == "__main__":
    run_stage("evaluate", main)
