"""`emoscan import-champion`: copy the MLflow `champion` into the BentoML model store, under its
registered model's name (`emoscan-fer2013`, `emoscan-ferplus`, ...). The service serves it when told
to: `MODEL_PATH=champion:emoscan-fer2013 bentoml serve`."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from emoscan.cli.common import CliError, require_extra
from emoscan.inference.bundle import STORE_PREFIX

BUNDLE_FILES = ("model.onnx", "labels.json", "preprocessing.json")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import-champion", help="import the MLflow champion into the BentoML model store")
    p.add_argument("--params", default="params.yaml", help="params.yaml with the mlflow and register sections")
    p.set_defaults(run=run)


def import_champion(params_path: str) -> str:
    """Import `models:/<name>@<alias>`'s serving bundle as BentoML model `<name>`; return its tag."""
    require_extra("import-champion", "pipeline", "mlflow")
    require_extra("import-champion", "serve", "bentoml")
    import bentoml
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from emoscan.settings import load_params
    from emoscan.training.release.registry import SERVING_ARTIFACTS
    from emoscan.training.common.tracking import setup_tracking

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
    with bentoml.models.create(name, metadata=metadata,
                               labels={"alias": alias, "mlflow_version": str(version.version)}) as model:
        for file in BUNDLE_FILES:
            shutil.copy(local / file, Path(model.path) / file)
        (Path(model.path) / "model_info.json").write_text(json.dumps({"version": version.version, **metadata}))
    return str(model.tag)


def run(args: argparse.Namespace) -> int:
    tag = import_champion(args.params)
    print(f"imported {tag} into the BentoML model store; serve it with "
          f"MODEL_PATH={STORE_PREFIX}{tag.split(':')[0]}")
    return 0
