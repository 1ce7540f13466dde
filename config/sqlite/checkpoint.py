"""SQLite's checkpoints, kept off the writers' path.

In WAL mode every commit appends the pages it wrote to the write-ahead log,
and a checkpoint copies them into the database file. By default the commit
that takes the log past 1,000 pages runs one itself, before it returns. Here
that commit still held the write lock (config/sqlite/base.py), so every POST
and worker round queued behind a copy of 4 MB and two fsyncs: 4-20 ms each,
three to five times a second at 120 orders/s on two slow cores
(BENCHMARKS.md).

So writers' commits leave checkpoints alone (`wal_autocheckpoint` is set
high in config/settings.py, a backstop should no checkpointer run), and the
clock's thread here runs them, in two passes:

1. without the write lock: copy what the log holds while writers go on;
2. with it, only if the log is not empty: copy the few pages written
   meanwhile. The log is then wholly in the database with no writer in it,
   so the next writer starts the log again from its beginning. Without this
   pass, under steady writes some writer is nearly always ahead of the copy,
   and the log grew to 57 MB in 30 s at 120 orders/s. The pass queues for
   the lock like any writer, and holds it about 2-3 ms.

Both passes are PASSIVE: they never wait for a reader, which just keeps the
pages it reads until the next round. A single statement run outside a
transaction (an API key's last use, say) takes SQLite's lock without the
flock, and may land during the second pass; the copy is then not whole, and
the next round tries again, as it does after a reader.
"""

import contextlib
import logging
import threading

from django.db import connections

from config.threads import signals_held

log = logging.getLogger(__name__)

# Under load the log grows by about 25 pages an order; this kept it under
# 2,000 pages (8 MB) at the engine's full speed, far below the backstop.
CHECKPOINT_EVERY_SECONDS = 0.25
# With nothing to copy, the rounds come further apart, up to this.
IDLE_EVERY_SECONDS = 2.0


def checkpoint(connection) -> tuple[int, int]:
    """One round on `connection` (a wrapper of config.sqlite): the pages in
    the log and those of them in the database, as the pass under the write
    lock left them (equal when the copy is whole); (0, 0) when the log had
    been started again and held nothing to copy."""
    with connection.cursor() as cursor:
        _busy, pages, _copied = cursor.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if pages <= 0:
            return 0, 0
        with connection.writers_held():
            _busy, pages, copied = cursor.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return pages, copied


class Checkpointer:
    """A thread that runs a checkpoint every `every` seconds until stopped,
    less often while nothing is written."""

    def __init__(self, alias: str = "default", every: float = CHECKPOINT_EVERY_SECONDS):
        self.alias, self.every = alias, every
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoints", daemon=True)

    def start(self) -> "Checkpointer":
        with signals_held():
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Ends the thread after its round: a pass may wait its turn at the
        write lock."""
        self._stopped.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        connection = connections[self.alias]
        copied_up_to, wait = None, self.every
        try:
            while not self._stopped.wait(wait):
                try:
                    # With no commit since the last round there is nothing to
                    # copy, and the next round can wait longer: an idle
                    # engine commits once in 5 s, and waking 4 times a second
                    # cost it 0.1-0.2 % of a core on two slow cores.
                    with connection.cursor() as cursor:
                        version = cursor.execute("PRAGMA data_version").fetchone()[0]
                    if version == copied_up_to:
                        wait = min(2 * wait, IDLE_EVERY_SECONDS)
                        continue
                    pages, copied = checkpoint(connection)
                    wait = self.every
                    if copied == pages:  # else a reader held some back
                        copied_up_to = version
                except Exception:
                    # The database may be gone for a while; the backstop holds.
                    log.exception("checkpoint failed")
                    copied_up_to = None
                    with contextlib.suppress(Exception):
                        connection.close()
        finally:
            with contextlib.suppress(Exception):
                connection.close()


def sqlite_checkpointer(alias: str = "default") -> Checkpointer | None:
    """A started Checkpointer if the database is SQLite."""
    if connections[alias].vendor != "sqlite":
        return None
    return Checkpointer(alias).start()
