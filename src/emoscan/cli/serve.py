"""`emoscan serve`: the BentoML service of the installed package (`bentoml serve` without a checkout)."""

from __future__ import annotations

import argparse
import os
import sys

from emoscan.cli.common import CliError, add_model_argument, require_extra
from emoscan.inference.bundle import model_at

#: the service's import path inside the package (the checkout's service.py points at the same class)
SERVICE = "emoscan.service.app:Emoscan"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve the HTTP API and the web page (needs the serve extra)",
                       description="Start the BentoML service: POST /detect, POST /detect-video, GET /metadata, "
                                   "the web page at /ui. Same as `bentoml serve` in a checkout.")
    p.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")), help="HTTP port (default: PORT, else 3000)")
    p.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    add_model_argument(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    require_extra("serve", "serve", "bentoml", "fastapi", "limits")
    if args.model:
        try:  # a bad --model fails here, in one line, not in the server's start-up
            model_at(args.model, "--model")
        except (FileNotFoundError, ImportError) as exc:
            raise CliError(str(exc)) from None
        os.environ["MODEL_PATH"] = args.model
    os.environ["PORT"] = str(args.port)
    # replaced by BentoML's own command: its signals and exit code are the server's
    os.execv(sys.executable, [sys.executable, "-m", "bentoml", "serve", SERVICE, "--port", str(args.port),
                              "--host", args.host])
