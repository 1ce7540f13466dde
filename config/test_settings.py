"""Settings for the test suite.

Tests use their own Redis database (15 unless TEST_REDIS_URL says otherwise)
and pytest-django's own test database, and flush only those, so a
developer's running engine survives `make test`.
"""

import os
import tempfile

# An empty TEST_REDIS_URL is unset, as the Makefile reads it: never REDIS_URL's default, database 0.
os.environ["REDIS_URL"] = os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379/15"
# Metrics of test engines go to a folder of their own, not a running engine's.
os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="order-engine-test-metrics-")

from config.settings import *  # noqa: E402,F403
