"""Shared start-up for the stage scripts: logging, params and one readable error line on failure."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from typing import Any

from emoscan.settings import ParamsError, load_params


def run_stage(name: str, body: Callable[[dict[str, Any]], None], over: str = "model") -> None:
    """Run a stage body with the params of one model (or, `over="dataset"`, one dataset) of
    params.yaml, named on the command line; expected errors end the process with one line."""
    parser = argparse.ArgumentParser(description=f"emoscan pipeline stage {name}")
    parser.add_argument(over, help=f"the {over} of params.yaml's {over}s")
    parser.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format=f"[{name}] %(message)s")
    try:
        body(load_params(args.params, **{over: getattr(args, over)}))
    except (ValueError, RuntimeError, FileNotFoundError, KeyError) as exc:
        where = f" ({args.params})" if isinstance(exc, ParamsError) and args.params not in str(exc) else ""
        print(f"[{name}] error: {exc}{where}", file=sys.stderr)
        sys.exit(1)
