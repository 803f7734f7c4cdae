"""Shared start-up for the stage scripts: logging, params and one readable error line on failure."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from typing import Any

from emoscan.settings import load_params


def run_stage(name: str, body: Callable[[dict[str, Any]], None]) -> None:
    """Run a stage body with the loaded params (`--params FILE`, default params.yaml: the FER+
    pipeline passes its own); expected errors end the process with one line."""
    parser = argparse.ArgumentParser(description=f"emoscan pipeline stage {name}")
    parser.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    params_path = parser.parse_args().params
    logging.basicConfig(level=logging.INFO, format=f"[{name}] %(message)s")
    try:
        body(load_params(params_path))
    except (ValueError, RuntimeError, FileNotFoundError, KeyError) as exc:
        print(f"[{name}] error: {exc}", file=sys.stderr)
        sys.exit(1)
