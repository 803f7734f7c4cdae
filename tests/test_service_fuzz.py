"""Schemathesis against the real server's own OpenAPI schema: generated requests to every
endpoint (fixed seed, bounded), none answered with a server error."""

from __future__ import annotations

import re

import pytest

from conftest import BIN, bentoml_server, run

pytestmark = pytest.mark.slow


def test_generated_requests_never_get_a_server_error(tmp_path):
    limits = {"rate_limit_detect_per_min": 100_000, "rate_limit_video_per_min": 100_000}
    with bentoml_server(tmp_path, service=limits) as (url, log):
        proc = run([str(BIN / "st"), "run", f"{url}/docs.json", "--url", url, "--checks", "not_a_server_error",
                    "--max-examples", "120", "--seed", "7", "--no-color"], check=False, timeout=600)
        found = re.search(r"(\d+) generated", proc.stdout)
        generated = int(found.group(1)) if found else 0
        assert proc.returncode == 0, proc.stdout[-4000:]
        assert generated >= 300, f"only {generated} cases generated:\n{proc.stdout[-2000:]}"
        assert "status=5" not in log.read_text(), "the access log shows no 5xx answer"
