"""Register stage: log the serving bundle written by the export stage to the MLflow Model Registry
and move the `champion` alias only when the new version scores at least as high as the current
champion on the chosen metric (a tie goes to the newer registration: a re-run of the same model)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import mlflow
import numpy as np
import onnx
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.types import Schema, TensorSpec

from emoscan.settings import require
from emoscan.training.common.artifacts import EXPORT_REPORT, LABELS_FILE, ONNX_FILE, PREPROCESSING_FILE, RUN_ID_FILE
from emoscan.training.common.tracking import setup_tracking

SERVING_ARTIFACTS = "serving"
log = logging.getLogger(__name__)


def champion_score(client: MlflowClient, name: str, alias: str, metric: str) -> tuple[str | None, float | None]:
    """(version, score) of the model version holding `alias`, or (None, None) when there is none."""
    try:
        version = client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None, None
    score = version.tags.get(metric)
    return str(version.version), float(score) if score is not None else None


def onnx_signature(model: onnx.ModelProto) -> ModelSignature:
    """MLflow signature of the classifier graph: (N, 48, 48, 1) float32 faces in [0, 1] under the
    graph's input name -> (N, classes) float32 probabilities under its output name."""
    (image,), (probs,) = model.graph.input, model.graph.output

    def shape(value: onnx.ValueInfoProto) -> tuple[int, ...]:
        return tuple(d.dim_value if d.HasField("dim_value") else -1 for d in value.type.tensor_type.shape.dim)

    return ModelSignature(inputs=Schema([TensorSpec(np.dtype(np.float32), shape(image), image.name)]),
                          outputs=Schema([TensorSpec(np.dtype(np.float32), shape(probs), probs.name)]))


def version_description(preprocessing: dict, labels: list[str]) -> str:
    """What a registry user needs to call the model version."""
    offsets = " and class offsets" if preprocessing.get("class_log_offsets") else ""
    return (f"{preprocessing.get('quantization', 'float32')} ONNX classifier of 48x48 grayscale face crops: "
            f"input (N, 48, 48, 1) float32 in [0, 1], output (N, {len(labels)}) probabilities in the order "
            f"{', '.join(labels)}. The pyfunc flavour runs the graph on one view; serving (the bundle under "
            f"'{SERVING_ARTIFACTS}/', emoscan.inference.classifier.EmotionClassifier) adds test-time "
            f"augmentation '{preprocessing.get('test_time_augmentation', 'none')}'{offsets} from preprocessing.json.")


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
        graph = onnx.load(str(bundle / ONNX_FILE))
        info = mlflow.onnx.log_model(graph, name="model", registered_model_name=name,
                                     signature=onnx_signature(graph))
    version = str(info.registered_model_version)
    client.update_model_version(name, version, description=version_description(
        json.loads((bundle / PREPROCESSING_FILE).read_text()), json.loads((bundle / LABELS_FILE).read_text())))
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
