"""A batch job on Ray Data: the files to do (those not in the output yet), spread over a pool of
workers that each hold one recognizer, their rows streamed back and written in parts.

With no address, `ray.init()` starts a local Ray on this machine; with `address` (or `RAY_ADDRESS`)
the same job runs on a Ray cluster, whose nodes must see the files at the same paths and have
emoscan installed (see docs/batch.md)."""

from __future__ import annotations

import gc
import json
import logging
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any, Iterator

from tqdm import tqdm

from emoscan.batch.inputs import InputFile, collect_inputs, describe
from emoscan.batch.sink import ResultSink
from emoscan.batch.worker import FileAnalyzer
from emoscan.settings import load_settings


@dataclass
class BatchReport:
    """What a run did."""

    output: str
    files: int          # files named by the inputs
    skipped: int        # already in the output (same path and content)
    analysed: int       # analysed by this run
    failed: int         # of those, files that could not be analysed (see the errors table)
    faces: int          # faces found by this run
    seconds: float      # wall time of the analysis (Ray's start included)
    workers: int = 0    # recognizers that ran at once
    interrupted: bool = False

    @property
    def faces_per_second(self) -> float:
        return self.faces / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "faces_per_second": round(self.faces_per_second, 2)}


def run_batch(inputs: list[str] | tuple[str, ...], output: str | os.PathLike, *, frame_rate: float | None = None,
              model: str | None = None, output_format: str | None = None, address: str | None = None,
              workers: int | None = None, files_per_task: int | None = None, settings: dict[str, Any] | None = None,
              progress: bool = True) -> BatchReport:
    """Analyse every image and video named by `inputs` (files, folders, globs, CSV/Parquet
    manifests) into `output`: one row per face, plus a row per file and per failed file (see
    `emoscan.batch.sink`). Files already in `output` with the same content are skipped. Defaults
    come from the `batch` section of params.yaml; `settings` overrides the `inference` section, as
    `EmotionRecognizer(**settings)` does. Ctrl-C stops the job with the output readable."""
    config = load_settings().batch
    fmt = output_format or config.output_format
    sink = ResultSink(output, fmt)
    files = [describe(path) for path in collect_inputs(inputs)]
    done = sink.done()
    todo = [f for f in files if (f.path, f.sha256) not in done]
    report = BatchReport(str(output), len(files), len(files) - len(todo), 0, 0, 0, 0.0)
    if not todo:
        return report

    import ray

    started = time.perf_counter()
    own_ray = not ray.is_initialized()
    if own_ray:
        # Ray's own warnings (token authentication on a local Ray, ...) off the console: errors only
        ray.init(address=address, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    workers = report.workers = workers or config.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    # one CPU per worker and one thread each for the detector and the classifier: workers fill the cores
    worker_settings = {"detector_threads": 1, "classifier_threads": 1, "video_detectors": 1, **(settings or {})}
    analyzer_args = {"model": model, "settings": worker_settings, "frame_rate": frame_rate or config.frame_rate,
                     "max_video_frames": config.max_video_frames or None}
    bar = tqdm(total=len(todo), unit="file", file=sys.stderr, disable=not progress)
    pending_faces: list[dict] = []
    pending_files: list[dict] = []

    def flush() -> None:
        if pending_files:
            sink.write(pending_faces, pending_files)
            pending_faces.clear()
            pending_files.clear()

    with StopRequest() as stop, console_errors_only(logging.getLogger("ray.data")):
        try:
            for dataset in datasets(ray, todo, files_per_task or config.files_per_task, workers, analyzer_args):
                for rows in result_rows(ray, dataset):
                    for file_json, faces_json in rows:
                        summary, faces = json.loads(file_json), json.loads(faces_json)
                        pending_files.append(summary)
                        pending_faces.extend(faces)
                        report.analysed += 1
                        report.failed += summary["status"] == "error"
                        report.faces += len(faces)
                    bar.update(len(rows))
                    bar.set_postfix(faces=report.faces, failed=report.failed,
                                    faces_per_s=f"{report.faces / (time.perf_counter() - started):.1f}")
                    if len(pending_files) >= config.files_per_part:
                        flush()
                    if stop.requested.is_set():
                        break
                if stop.requested.is_set():
                    break
            report.interrupted = stop.requested.is_set()
        except KeyboardInterrupt:
            report.interrupted = True
        finally:
            stop.finishing = True  # a Ctrl-C from here on would break off Ray's shutdown half-way
            flush()
            bar.close()
            report.seconds = time.perf_counter() - started
            if own_ray:
                # object and actor references left in reference cycles by a stopped job are freed
                # while Ray is up: one freed after `ray.shutdown()` ends the process with exit 1
                gc.collect()
                ray.shutdown()
    return report


class StopRequest:
    """Ctrl-C (SIGINT) or SIGTERM during a job: the job stops once the files in hand are written (the
    rows stream back in small batches); a second Ctrl-C stops it at once. The signals are caught
    here rather than left to raise KeyboardInterrupt wherever the main thread is, inside Ray's
    streaming executor included, where one was seen to be lost. Once the job is `finishing`
    (writing what it has, shutting Ray down) they are ignored: a KeyboardInterrupt inside
    `ray.shutdown()` ended the process with exit 1 and nothing written to standard output."""

    def __init__(self) -> None:
        self.requested = threading.Event()
        self.finishing = False
        self.previous: dict[int, object] = {}

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self.previous[signum] = signal.signal(signum, self.handle)
        return self

    def handle(self, signum, frame) -> None:
        if self.finishing:
            return
        if self.requested.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested.set()

    def __exit__(self, *exc) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
        self.previous.clear()


@contextmanager
def console_errors_only(logger: logging.Logger) -> Iterator[None]:
    """`logger`'s console handlers show errors only while the job runs, then as before: Ray Data's
    "execution finished" line per dataset and its warning that its progress bars are off (the job
    draws its own) stay out of the job's output, and in Ray's session log (ray-data.log)."""
    consoles = [h for h in logger.handlers if isinstance(h, logging.StreamHandler)]
    levels = [h.level for h in consoles]
    for handler in consoles:
        handler.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for handler, level in zip(consoles, levels):
            handler.setLevel(level)


def result_rows(ray, dataset) -> Iterator[list[tuple[str, str]]]:
    """The (file, faces) JSON pairs of each finished call of `dataset`, as it finishes.

    The blocks are fetched here, in the caller's thread. (`Dataset.iter_batches` fetches them in a
    thread of its own, which a job stopped by Ctrl-C left inside a `ray.get` while Ray shut down:
    the process then ended with Ray's "worker accessed after it is shut down", exit 1 instead of
    130.) Leaving the loop early stops the dataset's execution: its iterator is dropped with it."""
    from ray.data.block import BlockAccessor

    for bundle in dataset.iter_internal_ref_bundles():
        for ref in bundle.block_refs:
            table = BlockAccessor.for_block(ray.get(ref)).to_arrow()
            yield list(zip(table.column("file").to_pylist(), table.column("faces").to_pylist()))


#: image calls per worker at least, when a job has few images (load balance over the workers)
TASKS_PER_WORKER = 4


def datasets(ray, todo: list[InputFile], files_per_task: int, workers: int, analyzer_args: dict) -> list:
    """Ray datasets of the images (`files_per_task` per call) and of the videos (one per call), each
    mapped by a pool of `workers` FileAnalyzer actors that read the files themselves. (Reading the
    images with `ray.data.read_binary_files` instead was about twice as slow on two cores in a
    one-off trial: its read tasks start worker processes of their own.)"""
    mapped = []
    images = sum(f.kind == "image" for f in todo)
    # at most files_per_task images per call, and at least TASKS_PER_WORKER calls per worker, so that
    # a small job still spreads over every worker
    per_image_call = max(1, min(files_per_task, -(-images // (workers * TASKS_PER_WORKER))))
    for kind, per_call in (("image", per_image_call), ("video", 1)):
        items = [{"path": f.path, "kind": f.kind, "sha256": f.sha256} for f in todo if f.kind == kind]
        if items:
            # one block per call: results stream back (and are written) as each call ends
            source = ray.data.from_items(items, override_num_blocks=-(-len(items) // per_call))
            mapped.append(source.map_batches(
                FileAnalyzer, fn_constructor_kwargs=analyzer_args, batch_size=per_call, batch_format="pandas",
                num_cpus=1, compute=ray.data.ActorPoolStrategy(size=min(workers, len(items)))))
    return mapped


__all__ = ["BatchReport", "run_batch"]
