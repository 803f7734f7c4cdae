"""Fetch stage: bring FER-2013 into `data/raw/{train,test}/<class>/` from any supported source.

Sources: a Kaggle dataset (kagglehub, when installed and credentials exist), a local zip or
folder in the Kaggle image-folder layout, or the original `fer2013.csv`. The output is built in
a temporary folder and swapped in only when complete, so a bad source leaves the previous
good output untouched.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from emoscan.labels import CLASSES
from emoscan.data import IMAGE_EXTENSIONS, SPLITS

log = logging.getLogger(__name__)

SOURCES = ("auto", "kaggle", "zip", "folder", "csv")
# fer2013.csv `Usage` values and the split each one belongs to.
CSV_USAGE = {"Training": "train", "PublicTest": "test", "PrivateTest": "test"}
# fer2013.csv numbers its emotions in this order (0=Angry ... 6=Neutral).
CSV_LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

HOW_TO = (
    "Download FER-2013 from https://www.kaggle.com/datasets/msambare/fer2013 (or the original "
    "fer2013.csv) and point the pipeline at it: set fetch.local_path in params.yaml, or run "
    "`dvc exp run -S fetch.local_path=/path/to/fer2013.zip`."
)


class FetchError(RuntimeError):
    """The data source is unreachable or is not FER-2013; the message says what to do."""


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Return the hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def kaggle_credentials_present() -> bool:
    """True when Kaggle credentials are configured in the environment or ~/.kaggle."""
    if os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"):
        return True
    config_dir = Path(os.environ.get("KAGGLE_CONFIG_DIR", Path.home() / ".kaggle"))
    return (config_dir / "kaggle.json").is_file()


def download_from_kaggle(dataset: str) -> Path:
    """Download a Kaggle dataset with kagglehub and return its local folder."""
    try:
        import kagglehub
    except ImportError as exc:
        raise FetchError(f"fetch.source=kaggle needs `pip install kagglehub`. {HOW_TO}") from exc
    try:
        return Path(kagglehub.dataset_download(dataset))
    except Exception as exc:  # network errors, 403s, missing credentials: all one message
        raise FetchError(f"could not download Kaggle dataset {dataset!r}: {exc}. {HOW_TO}") from exc


def find_layout_root(folder: Path) -> Path:
    """Find the folder holding `train/` and `test/` (Kaggle zips may nest it one level)."""
    candidates = [folder, *sorted(p for p in folder.rglob("*") if p.is_dir())]
    for candidate in candidates:
        if all((candidate / split).is_dir() for split in SPLITS):
            return candidate
    raise FetchError(
        f"{folder}: not FER-2013 in the image-folder layout: no folder holds both 'train/' and 'test/'"
    )


def check_layout(root: Path, origin: str) -> dict[str, dict[str, int]]:
    """Check that every split has exactly the 7 class folders with images; return the counts."""
    counts: dict[str, dict[str, int]] = {}
    for split in SPLITS:
        present = {p.name.lower(): p for p in (root / split).iterdir() if p.is_dir()}
        missing = [c for c in CLASSES if c not in present]
        extra = sorted(set(present) - set(CLASSES))
        if missing:
            raise FetchError(f"{origin}: class folder(s) missing in {split}/: {', '.join(missing)}")
        if extra:
            raise FetchError(f"{origin}: unexpected folder(s) in {split}/: {', '.join(extra)} "
                             f"(expected exactly {', '.join(CLASSES)})")
        counts[split] = {}
        for label in CLASSES:
            n = sum(1 for f in present[label].iterdir() if f.suffix.lower() in IMAGE_EXTENSIONS)
            if n == 0:
                raise FetchError(f"{origin}: class folder {split}/{present[label].name} holds no images")
            counts[split][label] = n
    return counts


def copy_layout(root: Path, dest: Path) -> None:
    """Copy a checked image-folder tree to `dest`, normalising class folder names to lower case."""
    for split in SPLITS:
        for class_dir in (root / split).iterdir():
            if not class_dir.is_dir():
                continue
            target = dest / split / class_dir.name.lower()
            target.mkdir(parents=True, exist_ok=True)
            for image in class_dir.iterdir():
                if image.suffix.lower() in IMAGE_EXTENSIONS:
                    shutil.copy2(image, target / image.name)


def extract_zip(archive: Path, dest: Path) -> None:
    """Extract a zip, refusing one that is not a zip or that writes outside `dest`."""
    if not zipfile.is_zipfile(archive):
        raise FetchError(f"{archive}: not a zip file. {HOW_TO}")
    with zipfile.ZipFile(archive) as zf:
        for member in zf.namelist():
            if Path(member).is_absolute() or ".." in Path(member).parts:
                raise FetchError(f"{archive}: unsafe path in archive: {member}")
        try:
            zf.extractall(dest)
        except (zipfile.BadZipFile, OSError) as exc:
            raise FetchError(f"{archive}: cannot be extracted: {exc}") from exc


def convert_csv(csv_path: Path, dest: Path, image_size: int = 48) -> None:
    """Write the rows of the original fer2013.csv as PNG files in the image-folder layout."""
    expected = image_size * image_size
    with open(csv_path, newline="") as handle:
        reader = csv.DictReader(handle)
        needed = {"emotion", "pixels", "Usage"}
        if not reader.fieldnames or not needed <= set(reader.fieldnames):
            raise FetchError(f"{csv_path}: not fer2013.csv: expected columns {sorted(needed)}, "
                             f"got {reader.fieldnames}")
        for split in SPLITS:
            for label in CLASSES:
                (dest / split / label).mkdir(parents=True, exist_ok=True)
        for line, row in enumerate(reader, start=2):
            where = f"{csv_path}:{line}"
            try:
                emotion = int(row["emotion"])
                label = CSV_LABELS[emotion]
            except (TypeError, ValueError, IndexError):
                raise FetchError(f"{where}: emotion must be 0-6, got {row['emotion']!r}") from None
            split = CSV_USAGE.get(row["Usage"])
            if split is None:
                raise FetchError(f"{where}: unknown Usage {row['Usage']!r} (expected {sorted(CSV_USAGE)})")
            try:
                pixels = np.array(row["pixels"].split(), dtype=np.int64)
            except (AttributeError, ValueError):
                raise FetchError(f"{where}: malformed pixels: not a list of integers") from None
            if pixels.size != expected or pixels.min() < 0 or pixels.max() > 255:
                raise FetchError(f"{where}: malformed pixels: expected {expected} values in 0-255, "
                                 f"got {pixels.size}")
            image = pixels.astype(np.uint8).reshape(image_size, image_size)
            name = f"{row['Usage']}_{line - 1:05d}.png"
            Image.fromarray(image, mode="L").save(dest / split / label / name)


def resolve_source(cfg: dict) -> tuple[str, Path]:
    """Decide which source to use; return (kind, local path)."""
    source = cfg["source"]
    if source not in SOURCES:
        raise FetchError(f"fetch.source: expected one of {list(SOURCES)}, got {source!r}")
    if source == "kaggle" or (source == "auto" and kaggle_credentials_present()):
        try:
            return "folder", download_from_kaggle(cfg["kaggle_dataset"])
        except FetchError:
            if source == "kaggle":
                raise
            log.warning("Kaggle unreachable; falling back to fetch.local_path")
    path = Path(cfg["local_path"]).expanduser()
    if not path.exists():
        raise FetchError(f"fetch.local_path: {path} does not exist. {HOW_TO}")
    if source in ("zip", "folder", "csv"):
        return source, path
    if path.is_dir():
        return "folder", path
    if path.suffix.lower() == ".csv":
        return "csv", path
    return "zip", path


def publish(built: Path, out: Path, info: dict, source: Path) -> dict:
    """Finish a fetch: `info` (with the sha256 of `source` when it is a file) written to
    `built/source.json`, then `built` moved to `out`, replacing it only now that it is complete."""
    if source.is_file():
        info["sha256"] = sha256_file(source)
    (built / "source.json").write_text(json.dumps(info, indent=2))
    if out.exists():
        shutil.rmtree(out)
    built.rename(out)
    return info


def fetch(cfg: dict, image_size: int = 48) -> dict:
    """Run the fetch stage; return the description written to `<output_dir>/source.json`."""
    kind, path = resolve_source(cfg)
    out = Path(cfg["output_dir"])
    out.parent.mkdir(parents=True, exist_ok=True)
    for stale in out.parent.glob(".fetch-*"):  # left by a fetch that was killed (DVC runs one at a time)
        shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=".fetch-", dir=out.parent))
    try:
        built = staging / "raw"
        if kind == "csv":
            convert_csv(path, built, image_size)
        else:
            if kind == "zip":
                extract_zip(path, staging / "unzipped")
                root = find_layout_root(staging / "unzipped")
            else:
                if not path.is_dir():
                    raise FetchError(f"fetch.local_path: {path} is not a folder")
                root = find_layout_root(path)
            check_layout(root, str(path))
            copy_layout(root, built)
        return publish(built, out, {"source": kind, "path": str(path), "counts": check_layout(built, str(path))}, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
