"""DVC stage `validate`: Great Expectations suite over the split manifest; stops the pipeline on failure."""

import logging
from pathlib import Path

from _common import run_stage

from emoscan.settings import labels_of, section
from emoscan.data.validate import validate, validate_votes


def main(params: dict) -> None:
    manifest = Path(section(params, "split")["output_dir"]) / "manifest.csv"
    if labels_of(params) == "ferplus":
        summary = validate_votes(manifest, section(params, "validate"), params["classes"])
    else:
        summary = validate(manifest, section(params, "validate"))
    logging.info("all expectations met: %s; data docs: %s", summary["statistics"], summary["data_docs"])


if __name__ == "__main__":
    run_stage("validate", main, over="dataset")
