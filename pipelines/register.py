"""DVC stage `register`: ONNX export with parity check, MLflow Model Registry, `champion` alias."""

import logging

from _common import run_stage

from emoscan.training.release.registry import register


def main(params: dict) -> None:
    r = register(params)
    verdict = "is the new" if r["promoted"] else f"scores below {r['previous_score']:.4f}; stays off"
    logging.info("%s version %s (%s=%.4f) %s %s", r["model_name"], r["version"], r["metric"], r["score"],
                 verdict, r["alias"])


if __name__ == "__main__":
    run_stage("register", main)
