"""make test runs the suite on SQLite, then again on PostgreSQL. A test whose
outcome cannot depend on the database would only repeat its SQLite run
there, in a suite that must finish within 15 minutes on two slow cores (on
the slowest machine yet, 18 minutes with every end-to-end test in both
halves: tests/conftest.py keeps only those about concurrent writers)."""

import pytest
from django.db import connection


def sqlite_half_only(why: str):
    """Skip on PostgreSQL, saying why the SQLite run is enough."""
    return pytest.mark.skipif(connection.vendor != "sqlite", reason=f"{why}; the SQLite half ran it")
