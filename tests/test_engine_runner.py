"""`make run`'s runner (config.engine_runner): stopped, it exits 0; an engine
that ends on its own (a port taken, a crash) makes it exit non-zero, so that
make and whatever started it see the failure. A redis-server that the run
started, it stops, unless something else uses it."""

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from tests.engine import free_port, wait_until

PROJECT = Path(__file__).resolve().parent.parent


def start_runner(directory: Path, procfile: str) -> subprocess.Popen:
    (directory / "Procfile").write_text(procfile)
    return subprocess.Popen(
        [sys.executable, "-m", "config.engine_runner"],
        cwd=directory,
        env={**os.environ, "PYTHONPATH": str(PROJECT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_an_engine_that_ends_on_its_own_fails_the_run(tmp_path):
    runner = start_runner(tmp_path, "web: python -c 'raise SystemExit(3)'\nclock: sleep 60\n")

    assert runner.wait(timeout=60) != 0
    assert not (tmp_path / ".run/engine.live").exists()


def test_a_run_told_to_stop_exits_0(tmp_path):
    runner = start_runner(tmp_path, "web: sleep 60\n")
    wait_until(lambda: (tmp_path / ".run/engine.live").exists(), timeout=30, message="the runner to start")

    runner.send_signal(signal.SIGTERM)

    assert runner.wait(timeout=60) == 0


@pytest.fixture
def redis_the_run_started(tmp_path):
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed here (the Redis the tests use runs elsewhere)")
    """A redis-server on a port of its own, noted as ensure-redis.sh notes one
    that `make run` started."""
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port, socket_timeout=2)
    wait_until(lambda: _pings(client), timeout=10, message="redis-server to start")
    (tmp_path / ".run").mkdir()
    run_id = client.info("server")["run_id"]
    (tmp_path / ".run/redis-started").write_text(f"redis://127.0.0.1:{port}/0 {run_id}\n")
    yield server, client
    if server.poll() is None:
        server.terminate()
        server.wait(timeout=10)


def _pings(client) -> bool:
    try:
        return client.ping()
    except redis.RedisError:
        return False


def stop_a_run(tmp_path) -> None:
    runner = start_runner(tmp_path, "web: sleep 60\n")
    wait_until(lambda: (tmp_path / ".run/engine.live").exists(), timeout=30, message="the runner to start")
    runner.send_signal(signal.SIGTERM)
    assert runner.wait(timeout=60) == 0


def test_a_redis_server_the_run_started_stops_with_it(tmp_path, redis_the_run_started):
    server, client = redis_the_run_started
    client.connection_pool.disconnect()  # the fixture's own, from its wait for the server

    stop_a_run(tmp_path)

    assert server.wait(timeout=10) == 0
    assert not (tmp_path / ".run/redis-started").exists()


def test_a_redis_server_something_else_uses_is_left_running(tmp_path, redis_the_run_started):
    server, client = redis_the_run_started
    client.ping()  # a connection of its own, as a test run's would be

    stop_a_run(tmp_path)

    assert server.poll() is None and client.ping()


def test_a_redis_server_restarted_since_is_not_the_runs_to_stop(tmp_path, redis_the_run_started):
    """The note names the server the run started by its run_id: another
    server answering at that address now is not the run's to stop."""
    server, client = redis_the_run_started
    note = tmp_path / ".run/redis-started"
    note.write_text(note.read_text().replace(" ", " 0", 1))  # another run_id
    client.connection_pool.disconnect()

    stop_a_run(tmp_path)

    assert server.poll() is None and client.ping()
    assert not note.exists()
