"""The fan-out benchmark's pure parts: arguments, the table and the target verdicts (no clients run)."""

from __future__ import annotations

import importlib.util
import pathlib
import sys
from types import ModuleType
from typing import Any

import pytest

RUN = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "run.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_run", RUN)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_run"] = module
    spec.loader.exec_module(module)
    return module


def row(
    client: str,
    rate: float,
    *,
    scheme: str = "http",
    latency: int = 20,
    n: int = 500,
    cpu: float = 150.0,
    threads: int = 64,
) -> dict[str, Any]:
    return {
        "scheme": scheme,
        "latency_ms": latency,
        "n": n,
        "client": client,
        "msgs_per_s": rate,
        "cpu_us_per_msg": cpu,
        "threads": threads,
        "peak_open": 64,
        "new_connections": 0,
        "peak_rss_mb": 50.0,
        "delivered_all": True,
    }


def test_quick_mode_and_defaults(bench: ModuleType) -> None:
    full = bench.parse_args([])
    assert full.size_list == [100, 500, 2000, 10000]
    assert full.latency_list == [0, 20]
    assert full.scheme_list == ["http", "https"]
    quick = bench.parse_args(["--quick"])
    assert (quick.size_list, quick.runs) == ([500], 2)
    with pytest.raises(SystemExit):
        bench.parse_args(["--clients", "floor,nonsense"])


def test_table_shows_the_ratio_to_the_floor(bench: ModuleType) -> None:
    rows = [row("physical-floor", 3000.0), row("fcmclient-v1", 2500.0), row("firebase-admin-sync", 750.0)]
    table = bench.format_table(rows)
    lines = table.splitlines()
    assert "msgs/s" in lines[0]
    assert "vs floor" in lines[0]
    (ours,) = [line for line in lines if "fcm-client v1" in line]
    assert "2,500" in ours
    assert "1.20x" in ours
    (admin,) = [line for line in lines if "firebase-admin" in line]
    assert "4.00x" in admin


def test_targets_pass_and_miss_with_the_measured_figures(bench: ModuleType) -> None:
    rows = [
        row("floor", 3000.0),
        row("fcmclient-v1", 2500.0, threads=3),
        row("firebase-admin-sync", 900.0),
    ]
    verdicts = bench.check_targets(rows, None, []).splitlines()
    assert "MISS  http  20 ms N=500   fcm-client / firebase-admin sync = 2.78x (>= 3x)" in verdicts
    assert "PASS  http  20 ms N=500   floor / fcm-client = 1.20x (<= 1.3x)" in verdicts
    assert "PASS  fcm-client v1 peak threads 3 (<= 4)" in verdicts


def test_engine_targets_compare_with_the_physical_floor_and_requests_path(bench: ModuleType) -> None:
    rows = [
        row("physical-floor", 10000.0, n=2000, cpu=40.0),
        row("fcmclient-v1", 7000.0, n=2000, cpu=130.0),
        row("physical-floor", 10000.0, n=10000, cpu=40.0),
        row("fcmclient-v1", 5000.0, n=10000, cpu=100.0),
        row("fcmclient-v1", 7500.0, scheme="https", n=2000),
        row("fcmclient-v1-threads", 2500.0, scheme="https", n=2000),
    ]
    verdicts = bench.check_engine_targets(rows).splitlines()
    assert "PASS  http  20 ms N=2000  fcm-client / physical floor msgs/s = 0.70x (>= 0.6x)" in verdicts
    assert "MISS  http  20 ms N=2000  fcm-client / physical floor CPU per msg = 3.25x (<= 3x)" in verdicts
    assert "MISS  http  20 ms N=10000 fcm-client / physical floor msgs/s = 0.50x (>= 0.6x)" in verdicts
    assert "PASS  http  20 ms N=10000 fcm-client / physical floor CPU per msg = 2.50x (<= 3x)" in verdicts
    assert "PASS  https 20 ms N=2000  engine / requests' path msgs/s = 3.00x (>= 3x)" in verdicts


def test_the_topic_row_is_reported_next_to_the_v1_send_of_the_same_run(bench: ModuleType) -> None:
    rows = [
        row("fcmclient-v1", 4000.0, n=10000),
        row("fcmclient-subscribe", 3000.0, n=10000),
        row("fcmclient-subscribe", 900.0, n=500, latency=0),  # no v1 send in that group
    ]
    assert bench.check_topic_figures(rows).splitlines() == [
        "http  20 ms N=10000 subscribe_to_topic 3,000 tokens/s, v1 send 4,000 msgs/s: 0.75x",
        "http   0 ms N=500   subscribe_to_topic 900 tokens/s",
    ]
    assert "fcmclient-subscribe" in bench.parse_args([]).client_list
    assert "tokens/s" in bench.format_table(rows)
