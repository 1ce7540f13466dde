"""config/scripts/ensure-redis.sh reads every REDIS_URL the engine itself
accepts: a query string, a password, an IPv6 address, a Unix socket."""

import os
import subprocess
from urllib.parse import urlsplit

import pytest
from django.conf import settings

from tests.engine import ROOT


def ensure(url: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(ROOT / "config/scripts/ensure-redis.sh")],
        env={**os.environ, "REDIS_URL": url},
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize("shape", ["redis://{host}:{port}?db=15", "redis://:secret@{host}:{port}/15"])
def test_the_redis_the_tests_use_is_found_whatever_the_urls_shape(shape):
    address = urlsplit(settings.REDIS_URL)
    run = ensure(shape.format(host=address.hostname, port=address.port or 6379))

    assert run.returncode == 0, run.stderr
    assert f"using the server at {address.hostname}:{address.port or 6379}" in run.stdout


def test_a_unix_socket_that_is_not_there_is_named(tmp_path):
    run = ensure(f"unix://{tmp_path}/redis.sock?db=0")

    assert run.returncode == 1
    assert f"no socket at {tmp_path}/redis.sock" in run.stderr
