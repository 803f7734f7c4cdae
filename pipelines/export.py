"""DVC stage `export`: Keras model -> serving bundle (float32 ONNX with parity check, int8 graph,
class offsets fitted on the validation split)."""

import logging

from _common import run_stage

from emoscan.training.release.export import export


def main(params: dict) -> None:
    report = export(params)
    logging.info("float32 ONNX parity: max |diff| %.2e", report["float32_parity"]["max_abs_diff"])
    if "int8" in report:
        logging.info("int8 graph: top-1 agreement with float32 %.4f on validation", report["int8"]["val_top1_agreement"])
    if "class_offsets" in report:
        c = report["class_offsets"]
        logging.info("class offsets %s (validation accuracy %.4f -> %.4f, in-sample)",
                     {k: round(v, 2) for k, v in c["offsets"].items()}, c["val_accuracy_before"], c["val_accuracy_after"])


if __name__ == "__main__":
    run_stage("export", main)
