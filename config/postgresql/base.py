"""PostgreSQL, with Django's connection health check at most once a second,
and without bitmap scans.

With CONN_HEALTH_CHECKS, Django checks a persistent connection (a `SELECT 1`
round trip) before its first query after every request, and after every
hop of a socket's snapshot to the database thread: at saturation two checks
per order, and 5 % of the engine's throughput (BENCHMARKS.md). A connection
that was checked or opened in the last HEALTH_CHECK_SECONDS is taken as
healthy. So a database restart still costs no request, except one that a
thread starts within that second after its last check; that one fails with
a 5xx, its connection is closed, and the next one reconnects.

Every order leaves the statuses it passes through behind as dead entries
in the indexes on status, until the table is vacuumed. A plain index scan
marks an entry dead the first time it meets it, and from then on skips it
without looking at the table; a bitmap scan marks none, and looks up the
table page of every one, every time. Without fresh statistics (autovacuum
off, or behind) the planner chose bitmap scans for the backlog count of
every placement process: after 300,000 orders with no vacuum, each count
read all 300,000 dead entries, and the table pages they point to. The
engine's queries each look up a few rows by an index that a plain scan
serves as well, so its connections do without bitmap scans.
"""

import time

from django.db.backends.postgresql import base

HEALTH_CHECK_SECONDS = 1.0


class DatabaseWrapper(base.DatabaseWrapper):
    checked_at = float("-inf")

    def connect(self):
        super().connect()
        self.checked_at = time.monotonic()

    def get_connection_params(self):
        params = super().get_connection_params()
        params["options"] = f"{params.get('options', '')} -c enable_bitmapscan=off".strip()
        return params

    def close_if_health_check_failed(self):
        if self.health_check_done or self.connection is None:
            return
        if time.monotonic() - self.checked_at < HEALTH_CHECK_SECONDS:
            self.health_check_done = True
            return
        super().close_if_health_check_failed()
        if self.connection is not None:
            self.checked_at = time.monotonic()
