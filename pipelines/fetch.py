"""DVC stage `fetch`: FER-2013 from Kaggle, a zip, a folder or fer2013.csv into data/raw; FER+ from a
FERPlus zip or folder."""

import logging

from _common import run_stage

from emoscan.settings import labels_of, section
from emoscan.data.fetch import fetch
from emoscan.data.ferplus import fetch_ferplus


def main(params: dict) -> None:
    if labels_of(params) == "ferplus":
        info = fetch_ferplus(section(params, "fetch"))
    else:
        info = fetch(section(params, "fetch"), params["image_size"])
    logging.info("fetched %s from %s: %s", info["source"], info["path"], info["counts"])


if __name__ == "__main__":
    run_stage("fetch", main, over="dataset")
