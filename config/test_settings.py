"""Settings for the test suite.

Tests use their own Redis database (15 unless TEST_REDIS_URL says otherwise)
and pytest-django's own test database, and flush only those, so a
developer's running engine survives `make test`.
"""

import os

os.environ["REDIS_URL"] = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

from config.settings import *  # noqa: E402,F403
