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

For the same reason no garbage collection starts in a process while one of
its threads holds the flock: a collection stops every thread of its process
(a full one in a web process took 14-238 ms at 200 orders/s on two cores),
and one that began inside a transaction kept every writer of every process
waiting as long. A collection that comes due meanwhile runs just after.

Decimal columns stored as text (orders.fields.ExactDecimalField) are written
in fixed-point notation and read back exactly: SQLite keeps the numbers of a
column of numeric affinity as 64-bit floats, 15 significant digits.
"""

import fcntl
import gc
import os
import threading
from contextlib import contextmanager
from decimal import Decimal

from django.db.backends.sqlite3 import base, operations
from django.db.models.expressions import Col


class CollectorHeld:
    """Automatic garbage collection off while any holder is in, and on again
    (if it was on) when the last one leaves: a collection that came due
    meanwhile runs at the next allocation."""

    def __init__(self):
        self._holders = 0
        self._was_enabled = False
        self._count = threading.Lock()

    def enter(self) -> None:
        with self._count:
            self._holders += 1
            if self._holders == 1:
                self._was_enabled = gc.isenabled()
                gc.disable()

    def leave(self) -> None:
        with self._count:
            if self._holders == 0:
                return
            self._holders -= 1
            if self._holders == 0 and self._was_enabled:
                gc.enable()

    def forget_holders(self) -> None:
        """In a forked child: the threads that held the lock are not there,
        and neither is their flock (the child opens its own files)."""
        self._count = threading.Lock()
        if self._holders and self._was_enabled:
            gc.enable()
        self._holders = 0


# One per process: the collector is.
collector_held = CollectorHeld()
os.register_at_fork(after_in_child=collector_held.forget_holders)


class DatabaseOperations(operations.DatabaseOperations):
    def adapt_decimalfield_value(self, value, max_digits=None, decimal_places=None):
        # Plain digits: str() would write 1E-7, which reads back the same but
        # is no way to show an amount to someone looking at the table.
        return format(value, "f") if isinstance(value, Decimal) else value

    def get_decimalfield_converter(self, expression):
        from_number = super().get_decimalfield_converter(expression)
        field = expression.output_field
        quantum = Decimal(1).scaleb(-field.decimal_places) if isinstance(expression, Col) else None

        def converter(value, expression, connection):
            if not isinstance(value, str):
                return from_number(value, expression, connection)
            # As Django gives a numeric column's value: to the field's places.
            exact = Decimal(value)
            return exact if quantum is None else exact.quantize(quantum, context=field.context)

        return converter


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
    _write_lock = None
    _holding = False

    def _lock_file(self):
        if self._write_lock is None:
            self._write_lock = open(f"{self.settings_dict['NAME']}.write-lock", "a+b")  # noqa: SIM115
        return self._write_lock

    def _lock(self) -> None:
        fcntl.flock(self._lock_file(), fcntl.LOCK_EX)
        if not self._holding:
            self._holding = True
            collector_held.enter()

    def _unlock(self) -> None:
        try:
            if self._write_lock is not None:
                fcntl.flock(self._write_lock, fcntl.LOCK_UN)
        finally:
            self._let_the_collector_go()

    def _let_the_collector_go(self) -> None:
        if self._holding:
            self._holding = False
            collector_held.leave()

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
            # Closing the file lets go of its flock, held or not.
            self._let_the_collector_go()
            if self._write_lock is not None:
                self._write_lock.close()
                self._write_lock = None
