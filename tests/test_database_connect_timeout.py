"""A PostgreSQL that does not answer fails a connect in
DATABASE_CONNECT_TIMEOUT seconds (config/settings.py), rather than hold up a
web process's start and /api/health for psycopg's 130 s; a Redis that does
not answer is reported down too."""

import os
import socket
import subprocess
import sys

import pytest
from django.db import OperationalError

from orders.api.errors import _database_unavailable
from tests.engine import ROOT
from tests.halves import sqlite_half_only

HEALTH = (
    "import django\n"
    "django.setup()\n"
    "from django.test import Client\n"
    "answer = Client(HTTP_HOST='127.0.0.1').get('/api/health')\n"
    "print(answer.status_code, answer.json()['database'])\n"
)


def _run(code: str, database_url: str, **env) -> subprocess.CompletedProcess:
    inherited = {name: value for name, value in os.environ.items() if name != "DATABASE_CONNECT_TIMEOUT"}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**inherited, "DJANGO_SETTINGS_MODULE": "config.settings", "DATABASE_URL": database_url, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def silent_port():
    """A port that takes connections (the kernel completes them) and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield listener.getsockname()[1]
    listener.close()


@pytest.fixture
def silent_server(silent_port):
    return f"postgres://postgres@127.0.0.1:{silent_port}/orders"


def test_health_reports_a_silent_database_down_once_the_connect_times_out(silent_server):
    run = _run(HEALTH, silent_server, DATABASE_CONNECT_TIMEOUT="2")

    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["503", "down:", "OperationalError"]


def test_a_connect_timeout_in_the_url_stands(silent_server):
    show = "import django\ndjango.setup()\nfrom django.conf import settings\n"
    show += "print(settings.DATABASES['default']['OPTIONS']['connect_timeout'])\n"

    assert _run(show, silent_server).stdout.strip() == "5"
    assert _run(show, silent_server + "?connect_timeout=3").stdout.strip() == "3"


API_CALLS = (
    "import django\n"
    "django.setup()\n"
    "from django.test import Client\n"
    "client = Client(HTTP_HOST='127.0.0.1', raise_request_exception=False)\n"
    "for answer in (\n"
    "    client.post('/api/orders/execute', '{\"amount\": \"1\"}', content_type='application/json'),\n"
    "    client.get('/api/orders/6f1c3c3e-1b7e-4a8e-9a51-3f0d8f6c2b10'),\n"
    "    client.get('/api/orders'),\n"
    "):\n"
    "    print(answer.status_code, answer['Retry-After'], answer.json()['error'])\n"
)


def test_api_calls_answer_503_with_retry_after_while_the_database_is_down():
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens: every connect is refused at once

    run = _run(API_CALLS, f"postgres://postgres@127.0.0.1:{port}/orders")

    assert run.returncode == 0, run.stderr[-2000:]
    lines = run.stdout.splitlines()
    assert len(lines) == 3, run.stdout
    for line in lines:
        assert line.startswith("503 5 The database is not answering (OperationalError); try again"), line


@sqlite_half_only("SQLite's own messages")
@pytest.mark.parametrize(
    ("message", "unavailable"),
    [
        ("database is locked", True),  # the write lock stayed taken past the busy timeout
        ("unable to open database file", True),
        ("no such table: orders_order", False),  # a fault: a 500, not a retry
        ('near "SELEC": syntax error', False),
    ],
)
def test_only_sqlite_errors_that_trying_again_can_get_past_answer_503(message, unavailable):
    assert _database_unavailable(OperationalError(message)) is unavailable


def test_health_reports_a_silent_redis_down(silent_port, tmp_path):
    """Within redis-py's socket timeouts (5 s each by default), rather than
    hold a web thread for ever: a load balancer's probes would take every one."""
    health = HEALTH.replace("['database']", "['redis']")
    run = _run(health, f"sqlite:///{tmp_path / 'db.sqlite3'}", REDIS_URL=f"redis://127.0.0.1:{silent_port}/0")

    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["503", "down:", "TimeoutError"]
