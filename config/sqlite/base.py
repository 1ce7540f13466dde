"""SQLite, with writers that queue for the write lock instead of polling it.

SQLite lets one writer at a time in, and the others wait in its busy handler,
which sleeps between tries: 1, 2, 5, 10 ... up to 100 ms. A writer that
sleeps 25 ms past the moment the lock frees finds it taken again by a worker
that writes back to back, and POSTs waited up to 1.4 s behind the workers.
Here every write transaction first takes an advisory lock (flock) on a file
beside the database: the kernel queues the waiters and wakes the next one the
moment the lock is released. SQLite's own lock is then free at once, so its
busy handler does not sleep. The flock goes with the connection's file, so a
process that dies holding it releases it.

SQLite's checkpoints (copying the write-ahead log into the database) run
apart from the writers, in the clock (config/sqlite/checkpoint.py): a commit
that ran one held the flock meanwhile, and every writer queued behind it.
"""

import fcntl
from contextlib import contextmanager

from django.db.backends.sqlite3 import base


class DatabaseWrapper(base.DatabaseWrapper):
    _write_lock = None

    def _lock_file(self):
        if self._write_lock is None:
            self._write_lock = open(f"{self.settings_dict['NAME']}.write-lock", "a+b")  # noqa: SIM115
        return self._write_lock

    def _lock(self) -> None:
        fcntl.flock(self._lock_file(), fcntl.LOCK_EX)

    def _unlock(self) -> None:
        if self._write_lock is not None:
            fcntl.flock(self._write_lock, fcntl.LOCK_UN)

    @contextmanager
    def writers_held(self):
        """The writers' lock without a transaction: no writer starts meanwhile."""
        self._lock()
        try:
            yield
        finally:
            self._unlock()

    def _start_transaction_under_autocommit(self):
        self._lock()
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._unlock()
            raise

    def _commit(self):
        try:
            return super()._commit()
        finally:
            self._unlock()

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self._unlock()

    def _close(self):
        try:
            return super()._close()
        finally:
            if self._write_lock is not None:
                self._write_lock.close()
                self._write_lock = None
