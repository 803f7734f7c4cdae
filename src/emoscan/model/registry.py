"""Register stage: log the serving bundle written by the export stage to the MLflow Model Registry
and move the `champion` alias only when the new version scores at least as high as the current
champion on the chosen metric (a tie goes to the newer registration: a re-run of the same model)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import mlflow
import onnx
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from emoscan.config import require
from emoscan.model.export import EXPORT_REPORT, LABELS_FILE, ONNX_FILE, PREPROCESSING_FILE
from emoscan.model.tracking import setup_tracking
from emoscan.model.train import RUN_ID_FILE

SERVING_ARTIFACTS = "serving"
log = logging.getLogger(__name__)


def champion_score(client: MlflowClient, name: str, alias: str, metric: str) -> tuple[str | None, float | None]:
    """(version, score) of the model version holding `alias`, or (None, None) when there is none."""
    try:
        version = client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None, None
    score = version.tags.get(metric)
    return version.version, float(score) if score is not None else None


def register(params: dict) -> dict:
    """Run the register stage; return what was registered (also written to registration.json)."""
    cfg, train_dir = params["register"], Path(params["train"]["output_dir"])
    name = require(cfg, "model_name", str, where="register")
    alias = require(cfg, "alias", str, where="register")
    metric = require(cfg, "metric", str, where="register")
    require(cfg, "output_dir", str, where="register")
    metrics = json.loads((Path(params["evaluate"]["output_dir"]) / "metrics.json").read_text())
    if not isinstance(metrics.get(metric), (int, float)):
        numeric = sorted(k for k, v in metrics.items() if isinstance(v, (int, float)))
        raise ValueError(f"register.metric: {metric!r} is not in metrics.json; choose one of {numeric}")

    out, bundle = Path(cfg["output_dir"]), Path(params["export"]["output_dir"])
    out.mkdir(parents=True, exist_ok=True)
    export_report = json.loads((bundle / EXPORT_REPORT).read_text())

    setup_tracking(params["mlflow"])
    client = MlflowClient()
    run_id = (train_dir / RUN_ID_FILE).read_text().strip()
    with mlflow.start_run(run_id=run_id):
        mlflow.log_metrics({"onnx_max_abs_diff": export_report["float32_parity"]["max_abs_diff"],
                            **({"int8_val_top1_agreement": export_report["int8"]["val_top1_agreement"]}
                               if "int8" in export_report else {})})
        for file in (ONNX_FILE, LABELS_FILE, PREPROCESSING_FILE, EXPORT_REPORT):
            mlflow.log_artifact(str(bundle / file), artifact_path=SERVING_ARTIFACTS)
        info = mlflow.onnx.log_model(onnx.load(str(bundle / ONNX_FILE)), name="model",
                                     registered_model_name=name)
    version = str(info.registered_model_version)
    score = float(metrics[metric])
    for key in dict.fromkeys(("accuracy", "macro_f1", metric)):
        client.set_model_version_tag(name, version, key, str(metrics[key]))
    client.set_model_version_tag(name, version, "run_id", run_id)

    previous_version, previous_score = champion_score(client, name, alias, metric)
    if previous_version is not None and previous_score is None:
        log.warning("champion version %s has no %r tag; the new version takes the alias", previous_version, metric)
    promoted = previous_score is None or score >= previous_score
    if promoted:
        client.set_registered_model_alias(name, alias, version)
    result = {"model_name": name, "version": version, "run_id": run_id, "metric": metric, "score": score,
              "alias": alias, "promoted": promoted, "previous_champion": previous_version,
              "previous_score": previous_score, "onnx_parity": export_report["float32_parity"],
              "int8": export_report.get("int8")}
    (out / "registration.json").write_text(json.dumps(result, indent=2))
    return result
