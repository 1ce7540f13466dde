"""PostgreSQL, with Django's connection health check at most once a second.

With CONN_HEALTH_CHECKS, Django checks a persistent connection (a `SELECT 1`
round trip) before its first query after every request, and after every
hop of a socket's snapshot to the database thread: at saturation two checks
per order, and 5 % of the engine's throughput (BENCHMARKS.md). A connection
that was checked or opened in the last HEALTH_CHECK_SECONDS is taken as
healthy. So a database restart still costs no request, except one that a
thread starts within that second after its last check; that one fails with
a 5xx, its connection is closed, and the next one reconnects.
"""

import time

from django.db.backends.postgresql import base

HEALTH_CHECK_SECONDS = 1.0


class DatabaseWrapper(base.DatabaseWrapper):
    checked_at = float("-inf")

    def connect(self):
        super().connect()
        self.checked_at = time.monotonic()

    def close_if_health_check_failed(self):
        if self.health_check_done or self.connection is None:
            return
        if time.monotonic() - self.checked_at < HEALTH_CHECK_SECONDS:
            self.health_check_done = True
            return
        super().close_if_health_check_failed()
        if self.connection is not None:
            self.checked_at = time.monotonic()
