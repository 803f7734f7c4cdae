"""What a batch job analyses: files, folders (recursively), glob patterns and manifests (CSV or
Parquet with a `path` column) expanded into a sorted list of files, each with its kind and content
hash."""

from __future__ import annotations

import glob
import hashlib
from dataclasses import dataclass
from pathlib import Path

#: files analysed as videos (by extension); every other file is tried as an image
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
MANIFEST_SUFFIXES = (".csv", ".parquet")


class InputError(ValueError):
    """An input that names nothing to analyse."""


@dataclass(frozen=True)
class InputFile:
    """One file of the job."""

    path: str
    kind: str  # "image" or "video"
    sha256: str


def collect_inputs(inputs: list[str] | tuple[str, ...], manifest_column: str = "path") -> list[str]:
    """The files named by `inputs`, absolute, sorted, without repeats. A folder brings every file
    under it (hidden files and folders aside: bad files become error rows, not a stop); a pattern
    with `*`, `?` or `[` is a glob (`**` recursive); a `.csv` or `.parquet` file is a manifest whose
    `manifest_column` lists files, relative to the manifest's folder."""
    found: set[Path] = set()
    for item in inputs:
        path = Path(item)
        if any(ch in item for ch in "*?["):
            matches = [Path(m) for m in glob.glob(item, recursive=True) if Path(m).is_file()]
            if not matches:
                raise InputError(f"{item}: the pattern matches no file")
            found.update(matches)
        elif path.is_dir():
            found.update(p for p in path.rglob("*") if p.is_file()
                         and not any(part.startswith(".") for part in p.relative_to(path).parts))
        elif path.is_file() and path.suffix.lower() in MANIFEST_SUFFIXES:
            found.update(read_manifest(path, manifest_column))
        elif path.is_file():
            found.add(path)
        else:
            raise InputError(f"{item}: no such file or folder")
    return sorted(str(p.resolve()) for p in found)


def read_manifest(path: Path, column: str = "path") -> list[Path]:
    """The files a CSV or Parquet manifest lists in `column`."""
    import pandas as pd

    table = pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path)
    if column not in table.columns:
        raise InputError(f"{path}: a manifest needs a '{column}' column (it has {list(table.columns)})")
    return [p if p.is_absolute() else path.parent / p for p in map(Path, table[column].dropna().astype(str))]


def describe(path: str) -> InputFile:
    """`path` with its kind (by extension) and the SHA-256 of its content."""
    with open(path, "rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    kind = "video" if Path(path).suffix.lower() in VIDEO_SUFFIXES else "image"
    return InputFile(path, kind, digest)
