"""Which model to load: the one asked for, else `MODEL_PATH`, else the shipped default.

Three models ship inside the package (`emoscan/models/`, package data, so a wheel carries them):
`fer2013` (seven emotions, the default), `ferplus` (eight, contempt added, learnt from FER+'s ten
votes per face) and `fer2013-fast` (seven, about a fifth of `fer2013`'s time per face, a few points
less accurate). Everywhere a model is chosen (`MODEL_PATH`, the CLI's `--model`,
`EmotionRecognizer(model)`), a model is one of:

- a shipped model's name (`fer2013`, `ferplus`, `fer2013-fast`);
- a model bundle folder or an `.onnx` file;
- `champion:NAME[:VERSION]`: a model that `emoscan import-champion` put into the BentoML model store
  (NAME is the MLflow registered model, e.g. `emoscan-fer2013`; the newest when VERSION is left
  out). Only this form reads the store: nothing is picked from it unless asked.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

#: Where the shipped bundles live: the package's own `models/` folder (in a checkout, a bento or a wheel).
SHIPPED_ROOT = Path(str(files("emoscan") / "models"))
#: shipped model name -> its bundle folder (named after its MLflow registered model)
SHIPPED_MODELS = {"fer2013": SHIPPED_ROOT / "emoscan-fer2013", "ferplus": SHIPPED_ROOT / "emoscan-ferplus",
                  "fer2013-fast": SHIPPED_ROOT / "emoscan-fer2013-fast"}
DEFAULT_MODEL = "fer2013"
SHIPPED_MODEL_DIR = SHIPPED_MODELS[DEFAULT_MODEL]
#: `MODEL_PATH=champion:emoscan-fer2013`: a model of the BentoML store, by its registered model's name
STORE_PREFIX = "champion:"


@dataclass(frozen=True)
class ModelSource:
    """Where the loaded model comes from, for /metadata and logs."""

    path: Path
    origin: str  # "shipped" | "bentoml-store" | "MODEL_PATH" | "model" (the caller's own path)
    name: str
    version: str


def _version_of(path: Path) -> str:
    card = (path if path.is_dir() else path.parent) / "model_info.json"
    if card.is_file():
        return str(json.loads(card.read_text()).get("version", "unknown"))
    return "unknown"


def stored_model(reference: str) -> ModelSource:
    """`champion:NAME[:VERSION]`: that model in the local BentoML store (FileNotFoundError when absent,
    ImportError naming the `serve` extra when BentoML is not installed)."""
    tag = reference[len(STORE_PREFIX):]
    name = tag.split(":", 1)[0]
    if not name:
        raise FileNotFoundError(f"{reference}: expected {STORE_PREFIX}NAME[:VERSION], e.g. {STORE_PREFIX}emoscan-fer2013")
    try:
        import bentoml
    except ImportError:
        raise ImportError(f"{reference}: the BentoML model store needs the serve extra: "
                          "pip install 'emoscan[serve]'") from None
    try:
        model = bentoml.models.get(tag if ":" in tag else f"{tag}:latest")
    except bentoml.exceptions.NotFound:
        raise FileNotFoundError(f"{reference}: no such model in the BentoML store "
                                "(`emoscan import-champion` puts the MLflow champion there)") from None
    return ModelSource(Path(model.path), "bentoml-store", name, model.tag.version or "unknown")


def shipped_model(name: str = DEFAULT_MODEL) -> ModelSource:
    """One of the models shipped with the package, by name."""
    bundle = SHIPPED_MODELS[name]
    if not (bundle / "model.onnx").is_file():
        raise FileNotFoundError(f"the shipped model {name} is missing from {bundle}")
    return ModelSource(bundle, "shipped", bundle.name, _version_of(bundle))


def model_at(path: str | os.PathLike, origin: str) -> ModelSource:
    """The model `path` names (see the module's docstring); FileNotFoundError naming `origin`."""
    if str(path).startswith(STORE_PREFIX):
        return stored_model(str(path))
    local = Path(path)
    if str(path) in SHIPPED_MODELS and not (local.is_file() or (local / "model.onnx").is_file()):
        return shipped_model(str(path))
    if not local.exists():
        raise FileNotFoundError(f"{origin}={path} does not exist (a model bundle folder, an .onnx file, "
                                f"{STORE_PREFIX}NAME, or one of the shipped models: {', '.join(SHIPPED_MODELS)})")
    return ModelSource(local, origin, local.stem, _version_of(local))


def resolve_model() -> ModelSource:
    """The model to load when none is given: `MODEL_PATH`, else the shipped default (`fer2013`)."""
    env = os.environ.get("MODEL_PATH")
    return model_at(env, "MODEL_PATH") if env else shipped_model()
