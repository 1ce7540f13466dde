"""`make run`'s runner (config.engine_runner): stopped, it exits 0; an engine
that ends on its own (a port taken, a crash) makes it exit non-zero, so that
make and whatever started it see the failure. A redis-server that the run
started, it stops, unless something else uses it, also when the setup fails.
A second run in the same checkout is refused; a closed terminal stops a run."""

import os
import pty
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from tests.engine import free_port, wait_until

PROJECT = Path(__file__).resolve().parent.parent


def start_runner(directory: Path, procfile: str, *args: str, stdout=subprocess.DEVNULL, **env):
    (directory / "Procfile").write_text(procfile)
    return subprocess.Popen(
        [sys.executable, "-m", "config.engine_runner", "--no-setup", *args],
        cwd=directory,
        env={**os.environ, "PYTHONPATH": str(PROJECT), **env},
        stdout=stdout,
        stderr=subprocess.DEVNULL,
    )


# A process of the engine that notes its pid and the LOG_FORMAT it was given, then waits.
NOTING_SCRIPT = """
import os, time
with open("web.pid", "w") as note:
    note.write(f"{os.getpid()} {os.environ.get('LOG_FORMAT', '')}")
time.sleep(600)
"""
NOTING_PROCESS = f"web: exec {sys.executable} noting.py\n"


def start_noting_runner(directory: Path, **kwargs) -> subprocess.Popen:
    (directory / "noting.py").write_text(NOTING_SCRIPT)
    return start_runner(directory, NOTING_PROCESS, **kwargs)


def noted(directory: Path) -> tuple[int, str] | None:
    try:
        pid, _, log_format = (directory / "web.pid").read_text().partition(" ")
        return int(pid), log_format
    except (FileNotFoundError, ValueError):
        return None


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:  # a zombie no one has reaped yet has stopped too
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


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


def test_a_second_run_in_the_same_checkout_is_refused(tmp_path):
    first = start_noting_runner(tmp_path)
    web_pid, _ = wait_until(lambda: noted(tmp_path), timeout=30, message="the first run's engine")

    second = subprocess.run(
        [sys.executable, "-m", "config.engine_runner", "--no-setup"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(PROJECT)},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert second.returncode == 2
    assert f"already running (its runner is pid {first.pid}" in second.stdout
    assert first.poll() is None and not gone(web_pid)
    assert (tmp_path / ".run/engine.live").read_text().strip() == str(first.pid)
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=60) == 0


def test_a_closed_terminal_stops_the_run_and_its_processes(tmp_path):
    """honcho dies writing to the terminal that closed, before it stops
    anything: the runner stops what honcho started."""
    terminal, its_other_end = pty.openpty()
    runner = start_noting_runner(tmp_path, stdout=its_other_end)
    web_pid, _ = wait_until(lambda: noted(tmp_path), timeout=30, message="the engine to start")

    os.close(terminal)  # from here, writing to the terminal fails
    runner.send_signal(signal.SIGHUP)

    try:
        assert runner.wait(timeout=60) == 0
        wait_until(lambda: gone(web_pid), timeout=30, message="the engine's process to stop")
    finally:
        os.close(its_other_end)
        if not gone(web_pid):
            os.kill(web_pid, signal.SIGKILL)


def test_a_run_on_a_terminal_logs_plain_text(tmp_path):
    """honcho pipes each process's output, so each would see no terminal and write JSON."""
    terminal, its_other_end = pty.openpty()
    try:
        runner = start_noting_runner(tmp_path, stdout=its_other_end, LOG_FORMAT="auto")
        _, log_format = wait_until(lambda: noted(tmp_path), timeout=30, message="the engine to start")
        runner.send_signal(signal.SIGTERM)
        runner.wait(timeout=60)
    finally:
        os.close(terminal)
        os.close(its_other_end)

    assert log_format == "plain"


def test_a_failed_setup_stops_the_redis_server_it_started(tmp_path):
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed here")
    port = free_port()
    (tmp_path / "Procfile").write_text("web: sleep 60\n")

    runner = subprocess.run(
        [sys.executable, "-m", "config.engine_runner"],
        cwd=tmp_path,
        env={
            **os.environ,
            "PYTHONPATH": str(PROJECT),
            "REDIS_URL": f"redis://127.0.0.1:{port}/0",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            # Nothing listens on port 1: the migration fails.
            "DATABASE_URL": "postgres://postgres@127.0.0.1:1/nothing",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert runner.returncode != 0
    assert f"starting redis-server on 127.0.0.1:{port}" in runner.stdout
    assert "stopping the server" in runner.stdout
    with pytest.raises(redis.ConnectionError):
        redis.Redis(port=port, socket_timeout=2).ping()
    assert not (tmp_path / ".run/engine.live").exists()
