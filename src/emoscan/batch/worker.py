"""The work of one Ray worker: a callable class that loads a recognizer once and analyses batches
of files, the faces of a batch's images classified in one ONNX Runtime call."""

from __future__ import annotations

import json
import time
from typing import Any

import cv2
import pandas as pd

from emoscan.api import EmotionRecognizer
from emoscan.batch.rows import face_rows, file_row


class FileAnalyzer:
    """`ray.data.Dataset.map_batches(FileAnalyzer, ...)`: a batch of files (columns `path`, `kind`:
    "image" or "video", `sha256`) in, one row per file out: `file` (the file's summary) and `faces`
    (its face rows), both JSON, so that every batch has the same schema. Each worker reads its files
    itself (on a cluster: from storage every node mounts)."""

    def __init__(self, model: str | None, settings: dict[str, Any], frame_rate: float,
                 max_video_frames: int | None) -> None:
        cv2.setNumThreads(1)  # one thread per worker: the workers, one per CPU, fill the cores
        self.recognizer = EmotionRecognizer(model, **settings)
        source = self.recognizer.source
        self.model = {"model": source.name, "model_version": str(source.version or "")}
        self.frame_rate, self.max_video_frames = frame_rate, max_video_frames
        import ray

        #: the Ray node this worker runs on, in the files table: which machine analysed what
        self.node = ray.get_runtime_context().get_node_id() if ray.is_initialized() else ""

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        out: list[tuple[dict, list[dict]]] = []
        images, decoded = [], []
        for row in batch.itertuples(index=False):
            if row.kind == "video":
                out.append(self.video(row.path, row.sha256))
                continue
            started = time.perf_counter()
            try:
                with open(row.path, "rb") as handle:
                    images.append(self.recognizer.load_image(handle.read()))
                decoded.append((row, time.perf_counter() - started))
            except Exception as exc:  # noqa: BLE001 - not an image, empty, truncated, too large: a row, not a stop
                out.append((file_row(row.path, "image", row.sha256, [], self.model, time.perf_counter() - started,
                                     error=str(exc)), []))
        if images:
            started = time.perf_counter()
            faces = self.recognizer.analyzer.analyze_images(images)
            shared = (time.perf_counter() - started) / len(images)
            for (row, seconds), found in zip(decoded, faces):
                rows = face_rows(row.path, found, self.recognizer.labels, self.model)
                out.append((file_row(row.path, "image", row.sha256, rows, self.model, seconds + shared), rows))
        return self.frame(out)

    def frame(self, out: list[tuple[dict, list[dict]]]) -> pd.DataFrame:
        return pd.DataFrame({"file": [json.dumps({**f, "node": self.node}) for f, _ in out],
                             "faces": [json.dumps(r) for _, r in out]})

    def video(self, path: str, sha256: str) -> tuple[dict, list[dict]]:
        """Face rows of `frame_rate` frames per second of a video, and its summary."""
        started = time.perf_counter()
        try:
            analysis = self.recognizer.analyze_video(path, self.frame_rate, self.max_video_frames)
        except Exception as exc:  # noqa: BLE001 - undecodable or unreadable: a row, not a stop
            return file_row(path, "video", sha256, [], self.model, time.perf_counter() - started, error=str(exc)), []
        rows = [row for result in analysis.results for row in face_rows(
            path, result.faces, self.recognizer.labels, self.model, result.frame, round(result.timestamp, 4))]
        return file_row(path, "video", sha256, rows, self.model, time.perf_counter() - started,
                        frames=len(analysis.results)), rows
