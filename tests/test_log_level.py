"""LOG_LEVEL in any case; a level that is none stops the start with a
sentence naming the variable, not a traceback from the logging module."""

import os
import subprocess
import sys

from tests.engine import ROOT

SHOW_ROOT_LEVEL = (
    "import django, logging; django.setup(); print(logging.getLevelName(logging.getLogger().level))"
)


def _start(level: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", SHOW_ROOT_LEVEL],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "LOG_LEVEL": level},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_lowercase_level_is_taken():
    started = _start("debug")

    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == "DEBUG"


def test_a_level_that_is_none_is_named():
    started = _start("loud")

    assert started.returncode != 0
    assert "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'loud'" in started.stderr
