"""The benchmark harness runs end to end: `python -m bench --smoke` starts its
own engine (a temporary SQLite file, a Redis database of its own), places 20
orders, follows them over WebSockets and writes its JSON result. No timing is
asserted: this checks the harness, BENCHMARKS.md holds the figures."""

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent

RESULT_KEYS = {
    "throughput_orders_per_s",
    "post_latency_ms",
    "ws_latency_ms",
    "end_to_end_ms",
    "peak_in_flight",
    "cpu_seconds_per_order",
    "peak_rss_mb",
    "counts",
}


def bench_redis_url() -> str:
    """The test Redis server, but database 13: the test engines of this session
    listen on TEST_REDIS_URL's own database, and the harness flushes its one."""
    if os.environ.get("BENCH_SMOKE_REDIS_URL"):
        return os.environ["BENCH_SMOKE_REDIS_URL"]
    parts = urlsplit(os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379/15")
    # Never the session's own, which its engines still use.
    return urlunsplit(parts._replace(path="/12" if parts.path == "/13" else "/13"))


def test_the_smoke_benchmark_confirms_20_orders_and_writes_its_result(tmp_path):
    result_path = tmp_path / "result.json"
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--smoke",
            "--no-progress",
            "--out",
            str(tmp_path),
            "--redis-url",
            bench_redis_url(),
            "--json-out",
            str(result_path),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    result = json.loads(result_path.read_text())
    assert RESULT_KEYS <= result.keys()
    assert result["counts"] == {"confirmed": 20, "failed": 0, "cancelled": 0, "lost": 0, "rejected": 0}
    assert result["post_latency_ms"]["count"] == 20
    assert result["end_to_end_ms"]["count"] == 20
    assert result["peak_in_flight"] >= 1
    assert result["machine"]["python_sum_10m_seconds"] > 0
    assert {process["role"] for process in result["engine_resources"]["processes"]} >= {
        "web",
        "worker",
        "clock",
    }
    per_client = result["engine_cpu_per_client_cpu"]
    assert per_client.keys() == {"web", "worker", "clock", "all"}
    engine_over_client = result["engine_resources"]["cpu_seconds"] / result["client_cpu_seconds"]
    assert per_client["all"] == pytest.approx(engine_over_client, rel=0.05)  # both are rounded


def last_json_line(*args: str) -> dict:
    """Run `python -m <args>` and read the JSON its last line prints."""
    run = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_the_in_process_benchmark_prints_its_three_figures():
    figures = last_json_line("bench.micro", "--number", "20", "--repeat", "1")
    assert set(figures) == {
        "dlmm_quote_and_swap_us",
        "status_message_passed_over_us",
        "status_message_decoded_us",
    }
    assert all(value > 0 for value in figures.values())


def test_the_subscriber_benchmark_reads_every_message_with_both_readers():
    figures = last_json_line(
        "bench.subscriber", "--redis-url", bench_redis_url(), "--messages", "50", "--rate", "500"
    )
    assert figures["messages"] == 50
    assert figures["layer_us_per_message"] > 0 and figures["stock_us_per_message"] > 0
