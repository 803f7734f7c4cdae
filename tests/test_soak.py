"""A 60-second soak of the real server under Locust's mixed traffic (benchmarks/locustfile.py:
photos of four sizes, videos, bad inputs) at 16 concurrent users: no 5xx, no connection error,
every bad input answered with its 4xx. The 10-minute run is benchmarks/bench_soak.py."""

from __future__ import annotations

import sys

import pytest

from conftest import REPO

pytestmark = pytest.mark.slow


def test_a_minute_of_mixed_traffic_gets_no_server_error():
    sys.path.insert(0, str(REPO / "benchmarks"))
    from bench_soak import soak

    result = soak(minutes=1.0, users=16)
    assert result["locust_exit"] == 0, result["locust_output"]
    assert result["server_errors"] == 0 and result["connection_errors"] == 0, result["failures"]
    assert result["failures"] == [], "every bad input got the 4xx it expects"
    served = {row["Name"]: int(row["Request Count"]) for row in result["stats"]}
    for name in ("/detect", "/detect-video", "/detect (bad input)", "/detect-video (bad input)"):
        assert served.get(name, 0) > 0, served
