"""`make run`'s runner (config.engine_runner): stopped, it exits 0; an engine
that ends on its own (a port taken, a crash) makes it exit non-zero, so that
make and whatever started it see the failure."""

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.engine import wait_until

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
