"""ONNX Runtime sessions for the face detector and the emotion classifier, built one way."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort


def cpu_session(model: str | Path, threads: int) -> ort.InferenceSession:
    """A CPU session of `model` running each call on `threads` intra-op threads (0: one per core).

    Its threads sleep when a call ends instead of spinning: the detector's and the classifier's
    pools take turns on the same cores (and share them with the server's threads), and a pool
    spinning after its call made the next one up to twice as slow."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(0, int(threads))
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
