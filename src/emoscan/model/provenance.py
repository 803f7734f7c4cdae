"""Provenance files: the JSON written beside a committed or trained network (`<stem>.json`) by
`emoscan.model.accelerated` (its recipe, run and device) or `emoscan.model.soup` (its ingredients)."""

from __future__ import annotations

import json
from pathlib import Path


def provenance_of(path: str | Path) -> dict | None:
    """The provenance JSON beside the network at `path` (None without one)."""
    provenance = Path(path).with_suffix(".json")
    return json.loads(provenance.read_text()) if provenance.is_file() else None
