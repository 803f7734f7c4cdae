"""FER+ (Barsoum et al., 2016): FER-2013's images relabelled by ten annotators each.

The layout is Microsoft FERPlus's: folders `FER2013Train/` and `FER2013Valid/` (FER-2013's
Training and PublicTest images), each holding its PNGs and a `label.csv` without header: file
name, face rectangle, then ten vote counts in the order of `VOTE_COLUMNS`.

Training targets are the vote distribution over the eight emotions (FERPlus's "probability label
distribution"): single votes are dropped as outliers, as FERPlus does, and the remaining emotion
votes normalised. An image whose most-voted column is not one unique emotion (a tie, "unknown" or
"not a face") gets no majority label (-1) and is left out of training and of the majority-vote
figures.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

#: label.csv's vote columns, in file order.
VOTE_COLUMNS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt",
                "unknown", "NF")
#: emoscan's FER+ classes (FER-2013's names, alphabetical, with contempt), and the vote column of each.
FERPLUS_CLASSES = ("angry", "contempt", "disgust", "fear", "happy", "neutral", "sad", "surprise")
CLASS_COLUMN = {"angry": "anger", "contempt": "contempt", "disgust": "disgust", "fear": "fear",
                "happy": "happiness", "neutral": "neutral", "sad": "sadness", "surprise": "surprise"}
#: FERPlus folder of each emoscan split.
FOLDERS = {"train": "FER2013Train", "val": "FER2013Valid"}
NO_MAJORITY = -1


@dataclass
class VoteTable:
    """One FER+ folder: file names, 48x48 uint8 images and their (N, 10) vote counts."""

    names: list[str]
    images: np.ndarray
    votes: np.ndarray


class FerPlusLayoutError(ValueError):
    """The source is not in FERPlus's layout; the message names the file."""


def _read_labels(text: str, origin: str) -> list[tuple[str, list[int]]]:
    rows = []
    for line_no, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row:
            continue
        if len(row) != 2 + len(VOTE_COLUMNS):
            raise FerPlusLayoutError(f"{origin} line {line_no}: expected {2 + len(VOTE_COLUMNS)} columns "
                                     f"(name, rectangle, ten votes), got {len(row)}")
        try:
            rows.append((row[0], [int(v) for v in row[2:]]))
        except ValueError:
            raise FerPlusLayoutError(f"{origin} line {line_no}: vote counts must be integers, got {row[2:]}") from None
    return rows


class _Source:
    """A FERPlus zip or folder, read file by file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.zip = zipfile.ZipFile(path) if path.is_file() else None
        if self.zip is None and not path.is_dir():
            raise FerPlusLayoutError(f"{path}: no such FER+ zip or folder")
        members = self.zip.namelist() if self.zip else [str(p.relative_to(path)) for p in path.rglob("label.csv")]
        labels = [m for m in members if m.endswith(f"{FOLDERS['train']}/label.csv")]
        if not labels:
            raise FerPlusLayoutError(f"{path}: no {FOLDERS['train']}/label.csv: not in FERPlus's layout")
        self.root = labels[0][: -len(f"{FOLDERS['train']}/label.csv")]

    def read(self, relative: str) -> bytes:
        name = self.root + relative
        try:
            return self.zip.read(name) if self.zip else (self.path / name).read_bytes()
        except (KeyError, FileNotFoundError):
            raise FerPlusLayoutError(f"{self.path}: {name} is missing") from None


def read_folder(source: Path, split: str, limit: int | None = None) -> VoteTable:
    """The images and votes of one split ("train" or "val") of a FERPlus zip or folder; the first
    `limit` rows of label.csv when given (small test runs)."""
    reader = _Source(Path(source))
    folder = FOLDERS[split]
    rows = _read_labels(reader.read(f"{folder}/label.csv").decode(), f"{folder}/label.csv")[:limit]
    images = np.zeros((len(rows), 48, 48), np.uint8)
    for i, (name, _) in enumerate(rows):
        with Image.open(io.BytesIO(reader.read(f"{folder}/{name}"))) as image:
            pixels = np.asarray(image.convert("L"), np.uint8)
        if pixels.shape != (48, 48):
            raise FerPlusLayoutError(f"{folder}/{name}: expected 48x48 pixels, got {pixels.shape}")
        images[i] = pixels
    return VoteTable([n for n, _ in rows], images, np.asarray([v for _, v in rows], np.int64).reshape(-1, 10))


def majority_labels(votes: np.ndarray, classes: tuple[str, ...] = FERPLUS_CLASSES) -> np.ndarray:
    """Index in `classes` of each row's unique most-voted column, or NO_MAJORITY when the top is
    shared (a tie) or is "unknown" / "not a face"."""
    top = votes.max(axis=1, keepdims=True)
    unique = (votes == top).sum(axis=1) == 1
    best = votes.argmax(axis=1)
    column_to_class = np.full(len(VOTE_COLUMNS), NO_MAJORITY)
    for index, name in enumerate(classes):
        column_to_class[VOTE_COLUMNS.index(CLASS_COLUMN[name])] = index
    return np.where(unique & (top[:, 0] > 0), column_to_class[best], NO_MAJORITY)


def vote_distribution(votes: np.ndarray, classes: tuple[str, ...] = FERPLUS_CLASSES) -> np.ndarray:
    """(N, len(classes)) float32 training targets: the emotion votes with single votes dropped as
    outliers (FERPlus's rule), normalised to sum to 1; all-zero rows where no emotion vote is left."""
    emotion = votes[:, [VOTE_COLUMNS.index(CLASS_COLUMN[c]) for c in classes]].astype(np.float32)
    emotion[emotion <= 1] = 0.0
    total = emotion.sum(axis=1, keepdims=True)
    return np.divide(emotion, total, out=np.zeros_like(emotion), where=total > 0)


def write_split(table: VoteTable, path: Path, classes: tuple[str, ...] = FERPLUS_CLASSES) -> dict[str, int]:
    """One split as the split stage's npz: `x` (N, 48, 48) uint8, `y` majority labels (NO_MAJORITY
    where none), `targets` the vote distributions and `votes` the raw counts; returns the majority
    counts per class (and "no_majority")."""
    y = majority_labels(table.votes, classes)
    np.savez_compressed(path, x=table.images, y=y, targets=vote_distribution(table.votes, classes),
                        votes=table.votes, names=np.asarray(table.names))
    counts = {name: int((y == i).sum()) for i, name in enumerate(classes)}
    counts["no_majority"] = int((y == NO_MAJORITY).sum())
    return counts


def fetch_ferplus(cfg: dict) -> dict:
    """Fetch stage for FER+: copy the two folders of a FERPlus zip or folder (`fetch.local_path`)
    into `fetch.output_dir`, replacing it only once the copy is complete; returns the description
    written to `source.json` (images per folder, sha256 of a zip)."""
    from emoscan.data.fetch import publish

    path = Path(cfg["local_path"]).expanduser()
    reader = _Source(path)
    out = Path(cfg["output_dir"])
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".fetch-", dir=out.parent))
    try:
        counts = {}
        for split, folder in FOLDERS.items():
            labels = reader.read(f"{folder}/label.csv")
            rows = _read_labels(labels.decode(), f"{folder}/label.csv")
            (staging / folder).mkdir(parents=True)
            (staging / folder / "label.csv").write_bytes(labels)
            for name, _ in rows:
                (staging / folder / name).write_bytes(reader.read(f"{folder}/{name}"))
            counts[split] = len(rows)
        return publish(staging, out, {"source": "ferplus", "path": str(path), "counts": counts}, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def split_ferplus(raw_dir: Path, cfg: dict, classes: tuple[str, ...] = FERPLUS_CLASSES) -> dict:
    """Split stage for FER+: FERPlus's own split (FER2013Train for training, FER2013Valid for
    validation; no test split here), training images whose pixels also appear in validation
    dropped. Writes train.npz and val.npz (`write_split`), manifest.csv (one row per image: path,
    split, majority label, pixel hash, the ten votes) and split_report.json; returns the report."""
    from emoscan.data.split import pixel_hash

    out = Path(cfg["output_dir"])
    out.mkdir(parents=True, exist_ok=True)
    tables = {split: read_folder(Path(raw_dir), split) for split in FOLDERS}
    hashes = {split: [pixel_hash(image) for image in table.images] for split, table in tables.items()}
    in_val = set(hashes["val"])
    leaked = np.asarray([h in in_val for h in hashes["train"]], bool)
    train = tables["train"]
    tables["train"] = VoteTable([n for n, drop in zip(train.names, leaked) if not drop], train.images[~leaked],
                                train.votes[~leaked])
    rows = []
    report: dict = {"counts": {}, "cross_split_duplicates": int(leaked.sum())}
    for split, table in tables.items():
        report["counts"][split] = write_split(table, out / f"{split}.npz", classes)
    # FER+'s test split (FER-2013's PrivateTest) is kept out: an empty test array, so that every
    # dataset's split stage writes the same files
    write_split(VoteTable([], np.zeros((0, 48, 48), np.uint8), np.zeros((0, len(VOTE_COLUMNS)), int)),
                out / "test.npz", classes)
    for split, table in (("train", train), ("val", tables["val"])):
        labels = majority_labels(table.votes, classes)
        for i, name in enumerate(table.names):
            dropped = split == "train" and leaked[i]
            rows.append({"path": f"{FOLDERS[split]}/{name}", "split": "dropped" if dropped else split,
                         "label": classes[labels[i]] if labels[i] != NO_MAJORITY else "",
                         "hash": hashes[split][i], **dict(zip(VOTE_COLUMNS, map(int, table.votes[i])))})
    pd.DataFrame(rows).to_csv(out / "manifest.csv", index=False)
    (out / "split_report.json").write_text(json.dumps(report, indent=2))
    return report
