"""BentoML entry point (`bentoml serve`): the service lives in src/emoscan/service/app.py.

The `emoscan` package next to this file comes first: inside a bento that is the bento's own copy
(with the model bundle beside it), even where another copy (an editable install of a checkout) is
importable or was imported already by the serving process."""

import sys
from pathlib import Path

_src = str(Path(__file__).resolve().parent / "src")
if Path(_src).is_dir():
    if sys.path[:1] != [_src]:
        sys.path.insert(0, _src)
    for _name in [m for m in sys.modules if m == "emoscan" or m.startswith("emoscan.")]:
        if not (getattr(sys.modules[_name], "__file__", None) or "").startswith(_src):
            del sys.modules[_name]

from emoscan.service.app import Emoscan  # noqa: E402

__all__ = ["Emoscan"]
