"""LOG_LEVEL in any case; a level that is none stops the start with a
sentence naming the variable, not a traceback from the logging module."""

import os
import subprocess
import sys

import pytest

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


@pytest.mark.parametrize(("level", "shown"), [("debug", "DEBUG"), ("warn", "WARNING"), ("ERROR", "ERROR")])
def test_a_level_in_any_case_is_taken(level, shown):
    started = _start(level)

    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == shown


def test_a_level_that_is_none_is_named():
    started = _start("loud")

    assert started.returncode != 0
    assert "LOG_LEVEL must be one of" in started.stderr and "got 'loud'" in started.stderr
