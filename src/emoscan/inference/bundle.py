"""Which model to load: `MODEL_PATH`, else the champion imported into the BentoML store, else the
model shipped in the repository (so a fresh clone serves at once).

Three models are shipped: `fer2013` (seven emotions, the default), `ferplus` (eight, contempt
added, learnt from FER+'s ten votes per face) and `fer2013-fast` (seven, about a fifth of `fer2013`'s
time per face, a few points less accurate). Everywhere a model is chosen (`MODEL_PATH`, the
CLI's `--model`, `EmotionRecognizer(model)`), the name of a shipped model may stand for its folder."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from emoscan.settings import PROJECT_ROOT

SHIPPED_MODEL_DIR = PROJECT_ROOT / "models" / "emoscan-fer2013"
BENTO_MODEL_NAME = "emoscan-fer2013"
#: shipped model name -> its bundle folder
SHIPPED_MODELS = {"fer2013": SHIPPED_MODEL_DIR, "ferplus": PROJECT_ROOT / "models" / "emoscan-ferplus",
                  "fer2013-fast": PROJECT_ROOT / "models" / "emoscan-fer2013-fast"}


@dataclass(frozen=True)
class ModelSource:
    """Where the served model comes from, for /metadata and logs."""

    path: Path
    origin: str  # "MODEL_PATH" | "bentoml-store" | "shipped"
    name: str
    version: str


def _version_of(path: Path) -> str:
    card = (path if path.is_dir() else path.parent) / "model_info.json"
    if card.is_file():
        return str(json.loads(card.read_text()).get("version", "unknown"))
    return "unknown"


def bentoml_champion() -> Path | None:
    """Path of the newest `emoscan-fer2013` model in the local BentoML store, if any."""
    try:
        import bentoml

        return Path(bentoml.models.get(f"{BENTO_MODEL_NAME}:latest").path)
    except Exception:  # store empty or BentoML not configured: fall through to the shipped model
        return None


def model_at(path: str | os.PathLike, origin: str) -> ModelSource:
    """The model bundle folder (or .onnx file) at `path`, or the shipped model of that name
    (`fer2013`, `ferplus`, `fer2013-fast`); FileNotFoundError naming `origin`."""
    local = Path(path)
    if str(path) in SHIPPED_MODELS and not (local.is_file() or (local / "model.onnx").is_file()):
        bundle = SHIPPED_MODELS[str(path)]
        if not (bundle / "model.onnx").is_file():
            raise FileNotFoundError(f"{origin}={path}: the shipped model is missing from {bundle}")
        return ModelSource(bundle, "shipped", bundle.name, _version_of(bundle))
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{origin}={path} does not exist (a model bundle folder, an .onnx file, "
                                f"or one of the shipped models: {', '.join(SHIPPED_MODELS)})")
    return ModelSource(path, origin, path.stem, _version_of(path))


def resolve_model(use_bentoml_store: bool = True) -> ModelSource:
    """Pick the model directory (or .onnx file) to serve."""
    env = os.environ.get("MODEL_PATH")
    if env:
        return model_at(env, "MODEL_PATH")
    if use_bentoml_store and (stored := bentoml_champion()) is not None:
        return ModelSource(stored, "bentoml-store", BENTO_MODEL_NAME, stored.name)
    if not (SHIPPED_MODEL_DIR / "model.onnx").is_file():
        raise FileNotFoundError(f"no shipped model at {SHIPPED_MODEL_DIR}; set MODEL_PATH")
    return ModelSource(SHIPPED_MODEL_DIR, "shipped", BENTO_MODEL_NAME, _version_of(SHIPPED_MODEL_DIR))
