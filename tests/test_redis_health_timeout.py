"""A Redis that takes connections and never answers makes /api/health say so
within redis-py's socket timeouts (5 s each by default), rather than hold a
web thread for ever: a load balancer's probes would take every one."""

import os
import socket
import subprocess
import sys
import time

import pytest

from tests.engine import ROOT

HEALTH = (
    "import django\n"
    "django.setup()\n"
    "from django.test import Client\n"
    "answer = Client(HTTP_HOST='127.0.0.1').get('/api/health')\n"
    "print(answer.status_code, answer.json()['redis'])\n"
)


@pytest.fixture
def silent_redis():
    """A port that takes connections (the kernel completes them) and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    listener.close()


def test_health_reports_a_silent_redis_down(silent_redis, tmp_path):
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-c", HEALTH],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "REDIS_URL": silent_redis,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["503", "down:", "TimeoutError"]
    assert time.monotonic() - started < 30
