"""DVC stage `split`: stratified train/val split, manifest, arrays and duplicate report."""

import logging
from pathlib import Path

from _common import run_stage

from emoscan.settings import labels_of, section
from emoscan.data.ferplus import split_ferplus
from emoscan.data.split import split_dataset


def main(params: dict) -> None:
    raw = Path(section(params, "fetch")["output_dir"])
    if labels_of(params) == "ferplus":
        report = split_ferplus(raw, section(params, "split"), tuple(params["classes"]))
        logging.info("majority labels %s; training images also in validation, dropped: %d", report["counts"],
                     report["cross_split_duplicates"])
        return
    report = split_dataset(raw, section(params, "split"), params["image_size"])
    for split, counts in report["counts"].items():
        logging.info("%s: %d images %s", split, sum(counts.values()), counts)
    logging.info("duplicates within splits %s, cross-split %d (%s), undecodable %d",
                 report["duplicates_within_split"], report["cross_split_duplicates"],
                 report["cross_split_policy"], len(report["undecodable"]))


if __name__ == "__main__":
    run_stage("split", main, over="dataset")
