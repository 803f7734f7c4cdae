"""What the training stages write and read: artefact file names, reproducible `.keras` saving, and
the provenance JSON kept beside a committed network."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import keras

# train stage (in train.output_dir)
BEST_MODEL = "model.keras"               # the float32 network the export stage converts
TRAINING_LOG = "training_log.csv"        # one row per epoch (Keras CSVLogger)
TRAINING_PLOT = "training_plot.png"
RUN_ID_FILE = "mlflow_run_id.txt"        # the MLflow run the later stages log into
SNAPSHOTS = "snapshots"                  # every epoch's network when train.snapshots is on

# export stage (in export.output_dir): the serving bundle read by emoscan.inference
ONNX_FILE = "model.onnx"
FLOAT_ONNX_FILE = "model_fp32.onnx"
EXPORT_REPORT = "export_report.json"
LABELS_FILE = "labels.json"
PREPROCESSING_FILE = "preprocessing.json"

#: the timestamp every zip entry gets (the zip format's earliest)
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def save_reproducibly(network: keras.Model, path: str | Path) -> Path:
    """`network.save(path)` so that the same weights give the same bytes (a `.keras` file is a zip
    whose entries carry the time of saving, which would change `dvc.lock` on every `dvc repro`):
    the zip is rewritten with fixed entry times and without the save date in metadata.json;
    Keras loads it as before."""
    path = Path(path)
    network.save(path)
    with zipfile.ZipFile(path) as source:
        entries = [(info, source.read(info.filename)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w") as target:
        for info, data in entries:
            if info.filename == "metadata.json":
                metadata = json.loads(data)
                metadata.pop("date_saved", None)
                data = json.dumps(metadata, sort_keys=True).encode()
            fixed = zipfile.ZipInfo(info.filename, date_time=ZIP_EPOCH)
            fixed.compress_type, fixed.external_attr = info.compress_type, info.external_attr
            target.writestr(fixed, data)
    return path


def provenance_of(path: str | Path) -> dict | None:
    """The provenance JSON beside the network at `path` (`<stem>.json`, written by the accelerated
    trainer with its recipe, run and device, or by `emoscan.training.fit.soup` with its ingredients);
    None without one."""
    provenance = Path(path).with_suffix(".json")
    return json.loads(provenance.read_text()) if provenance.is_file() else None
