"""Schemathesis against the real server's own OpenAPI schema: generated requests to every
endpoint (fixed seed, bounded), none answered with a server error, every answer's status code, type
and body as the schema documents them (the error answers included)."""

from __future__ import annotations

import re

import pytest

from conftest import BIN, bentoml_server, run

pytestmark = pytest.mark.slow


CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def test_generated_requests_never_get_a_server_error_and_conform_to_the_schema(tmp_path):
    import requests

    limits = {"rate_limit_detect_per_min": 100_000, "rate_limit_video_per_min": 100_000}
    with bentoml_server(tmp_path, service=limits) as (url, log):
        spec = requests.get(f"{url}/docs.json", timeout=10).json()
        for route in ("/detect", "/detect-video"):
            answers = spec["paths"][route]["post"]["responses"]
            for code in ("400", "413", "415", "429"):
                assert answers[code]["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/ErrorResponse"}, (route, code)
            assert "Retry-After" in answers["429"]["headers"] and "401" not in answers, "no keys configured"
        assert spec["components"]["schemas"]["ErrorResponse"]["required"] == ["error"]
        proc = run([str(BIN / "st"), "run", f"{url}/docs.json", "--url", url, "--checks", CHECKS,
                    "--max-examples", "120", "--seed", "7", "--no-color"], check=False, timeout=600)
        found = re.search(r"(\d+) generated", proc.stdout)
        generated = int(found.group(1)) if found else 0
        assert proc.returncode == 0, proc.stdout[-4000:]
        assert generated >= 300, f"only {generated} cases generated:\n{proc.stdout[-2000:]}"
        assert "status=5" not in log.read_text(), "the access log shows no 5xx answer"
