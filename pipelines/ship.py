"""DVC stage `ship`: the bundle, its evaluation and its model card into the package (src/emoscan/models/)."""

import logging

from _common import run_stage

from emoscan.training.release.ship import ship


def main(params: dict) -> None:
    info = ship(params)
    logging.info("shipped %s v%s to %s: accuracy %.4f, macro-F1 %.4f (%s)", info["name"], info["version"],
                 params["ship"]["output_dir"], info["accuracy"], info["macro_f1"], info["evaluated_on"])


if __name__ == "__main__":
    run_stage("ship", main)
