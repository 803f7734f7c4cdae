"""Saving networks so that the same weights give the same bytes: a `.keras` file is a zip whose
entries carry the time of saving (and `metadata.json` its date), so every `dvc repro` would give
`models/train/model.keras` a new hash and leave `dvc.lock` modified."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import keras

#: the timestamp every entry gets (the zip format's earliest)
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def save_reproducibly(network: keras.Model, path: str | Path) -> Path:
    """`network.save(path)`, then the zip rewritten with fixed entry times and without the
    save date in metadata.json; Keras loads it as before."""
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
