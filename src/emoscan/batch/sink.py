"""Where a batch job's rows go, so that a killed job leaves a readable output and a rerun
continues it.

Parquet (the default): `results.parquet` is a folder of part files (pandas, pyarrow, DuckDB and
Spark read the folder as one table), with `results.files.parquet` (one row per file) and
`results.errors.parquet` (the files that failed) beside it. Each part is written to a temporary
name and renamed, faces first and the file rows last: a part of face rows without its file rows
(the job was killed in between) is removed on the next run, whose files are then analysed again.
CSV: the three tables are single files, appended to in the same order; face rows of files missing
from the files table are dropped on the next run."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

FORMATS = ("parquet", "csv")


def table_paths(output: Path, fmt: str) -> dict[str, Path]:
    """The faces, files and errors tables of an output path (`results.parquet` ->
    `results.files.parquet`, `results.errors.parquet`)."""
    suffix = f".{fmt}"
    stem = output.name[: -len(suffix)] if output.name.endswith(suffix) else output.name
    return {"faces": output, "files": output.with_name(f"{stem}.files{suffix}"),
            "errors": output.with_name(f"{stem}.errors{suffix}")}


class ResultSink:
    """Appends face, file and error rows to the output; knows which files are done."""

    def __init__(self, output: str | os.PathLike, fmt: str = "parquet") -> None:
        if fmt not in FORMATS:
            raise ValueError(f"output format: expected one of {list(FORMATS)}, got {fmt!r}")
        self.fmt = fmt
        self.paths = table_paths(Path(output), fmt)
        self.paths["faces"].parent.mkdir(parents=True, exist_ok=True)
        self._drop_unfinished_parts() if fmt == "parquet" else self._drop_unfinished_rows()
        self.next_part = self._count_parts()

    def done(self) -> set[tuple[str, str]]:
        """(path, sha256) of every file already in the output."""
        files = self.read("files")
        return set(zip(files["source"], files["sha256"])) if len(files) else set()

    def read(self, table: str) -> pd.DataFrame:
        """One of the tables ("faces", "files", "errors") as written so far."""
        path = self.paths[table]
        if self.fmt == "csv":
            return pd.read_csv(path) if path.is_file() else pd.DataFrame()
        parts = sorted(path.glob("part-*.parquet")) if path.is_dir() else []
        return pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True) if parts else pd.DataFrame()

    def write(self, faces: list[dict], files: list[dict]) -> None:
        """Add the rows of some finished files (their faces, their summaries, and their errors)."""
        errors = [{"source": f["source"], "kind": f["kind"], "error": f["error"]} for f in files if f["error"]]
        for table, rows in (("faces", faces), ("errors", errors), ("files", files)):  # files last: the commit
            if rows:
                self._append(table, pd.DataFrame(rows))
        self.next_part += 1

    def _append(self, table: str, frame: pd.DataFrame) -> None:
        path = self.paths[table]
        if self.fmt == "csv":
            frame.to_csv(path, mode="a", header=not path.is_file(), index=False)
            return
        path.mkdir(parents=True, exist_ok=True)
        target = path / f"part-{self.next_part:05d}.parquet"
        temporary = path / f".{target.name}.tmp"
        frame.to_parquet(temporary, index=False)
        os.replace(temporary, target)

    def _drop_unfinished_rows(self) -> None:
        done = {source for source, _ in self.done()}
        for table in ("faces", "errors"):
            rows = self.read(table)
            if len(rows) and not rows["source"].isin(done).all():
                rows[rows["source"].isin(done)].to_csv(self.paths[table], index=False)

    def _count_parts(self) -> int:
        files = self.paths["files"]
        if self.fmt == "csv" or not files.is_dir():
            return 0
        return max((int(p.stem.split("-")[1]) + 1 for p in files.glob("part-*.parquet")), default=0)

    def _drop_unfinished_parts(self) -> None:
        files = self.paths["files"]
        committed = {p.name for p in files.glob("part-*.parquet")} if files.is_dir() else set()
        for table in ("faces", "errors"):
            folder = self.paths[table]
            if folder.is_dir():
                for part in [*folder.glob("part-*.parquet"), *folder.glob(".part-*.tmp")]:
                    if part.name not in committed:
                        part.unlink()
        if files.is_dir():
            for temporary in files.glob(".part-*.tmp"):
                temporary.unlink()
