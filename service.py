"""BentoML entry point (`bentoml serve`): the service lives in src/emoscan/service/app.py."""

import sys
from pathlib import Path

_src = Path(__file__).resolve().parent / "src"
if _src.is_dir() and str(_src) not in sys.path:
    sys.path.insert(0, str(_src))

from emoscan.service.app import Emoscan  # noqa: E402

__all__ = ["Emoscan"]
