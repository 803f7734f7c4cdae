"""`emoscan import-champion`: copy the MLflow `champion` into the BentoML model store, where
`bentoml serve` and `bentoml build` pick it up."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from emoscan.cli.common import CliError
from emoscan.inference.bundle import BENTO_MODEL_NAME

BUNDLE_FILES = ("model.onnx", "labels.json", "preprocessing.json")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import-champion", help="import the MLflow champion into the BentoML model store")
    p.add_argument("--params", default="params.yaml", help="params.yaml with the mlflow and register sections")
    p.set_defaults(run=run)


def import_champion(params_path: str) -> str:
    """Import `models:/<name>@<alias>`'s serving bundle; return the BentoML tag."""
    import bentoml
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from emoscan.settings import load_params
    from emoscan.training.release.registry import SERVING_ARTIFACTS
    from emoscan.training.tracking import setup_tracking

    params = load_params(params_path)
    setup_tracking(params["mlflow"])
    name, alias = params["register"]["model_name"], params["register"]["alias"]
    try:
        version = MlflowClient().get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        raise CliError(f"no {name}@{alias} in the MLflow registry ({mlflow.get_tracking_uri()}): "
                       "run `dvc repro` first") from exc
    local = Path(mlflow.artifacts.download_artifacts(run_id=version.run_id, artifact_path=SERVING_ARTIFACTS))
    metadata = {"mlflow_model": name, "mlflow_version": version.version, "run_id": version.run_id,
                **{k: v for k, v in version.tags.items() if k in ("accuracy", "macro_f1")}}
    with bentoml.models.create(BENTO_MODEL_NAME, metadata=metadata,
                               labels={"alias": alias, "mlflow_version": str(version.version)}) as model:
        for file in BUNDLE_FILES:
            shutil.copy(local / file, Path(model.path) / file)
        (Path(model.path) / "model_info.json").write_text(json.dumps({"version": version.version, **metadata}))
    return str(model.tag)


def run(args: argparse.Namespace) -> int:
    print(f"imported {import_champion(args.params)} into the BentoML model store")
    return 0
