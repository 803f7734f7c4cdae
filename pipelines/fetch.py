"""DVC stage `fetch`: FER-2013 from Kaggle, a zip, a folder or fer2013.csv into data/raw."""

import logging

from _common import run_stage

from emoscan.config import section
from emoscan.data.fetch import fetch


def main(params: dict) -> None:
    info = fetch(section(params, "fetch"), params["image_size"])
    logging.info("fetched %s from %s: %s", info["source"], info["path"], info["counts"])


if __name__ == "__main__":
    run_stage("fetch", main)
