"""MLflow set-up shared by the train, evaluate and register stages."""

from __future__ import annotations

import os
from typing import Any

import mlflow

#: the experiment tag that makes MLflow's UI show an experiment as model training
EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")


def setup_tracking(cfg: dict) -> str:
    """Point MLflow at `MLFLOW_TRACKING_URI` if set, else `mlflow.tracking_uri` from params
    (a SQLite file in the repo, so the Model Registry works without a server)."""
    uri = os.environ.get("MLFLOW_TRACKING_URI") or cfg["tracking_uri"]
    mlflow.set_tracking_uri(uri)
    experiment = mlflow.set_experiment(cfg["experiment"])
    if experiment.tags.get(EXPERIMENT_KIND[0]) != EXPERIMENT_KIND[1]:
        # MLflow 3's UI opens an experiment without this tag on its GenAI views (traces), not on runs
        mlflow.MlflowClient().set_experiment_tag(experiment.experiment_id, *EXPERIMENT_KIND)
    return uri


def flatten_params(params: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{"train": {"augment": {"zoom": 0.1}}}` -> `{"train.augment.zoom": 0.1}` for mlflow.log_params."""
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_params(value, f"{name}."))
        else:
            flat[name] = value
    return flat
