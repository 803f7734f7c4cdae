"""Batch analysis of many files (`emoscan batch`) on Ray Data: on this machine, or unchanged on a
Ray cluster. `run_batch` is the Python entry point; Ray is the optional `batch` extra."""

from emoscan.batch.inputs import collect_inputs
from emoscan.batch.job import BatchReport, run_batch

__all__ = ["BatchReport", "collect_inputs", "run_batch"]
