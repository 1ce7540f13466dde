"""The engine clock: the one loop that keeps time for the workers.

It releases due timers (settlements, retries) onto the queue within a tick
of their time, waiting in between for the next one to come due; every
few seconds it sweeps for orders whose work was lost, expires waiting orders
whose time is up, asks the workers to admit pending orders into free slots,
and lets the mock market drift. On SQLite, a thread of it runs the database's
checkpoints (config/sqlite/checkpoint.py). Running several clocks
(one per machine) is safe: every step claims its work atomically.
"""

import logging
import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from config.sqlite.checkpoint import sqlite_checkpointer
from orders import dispatch, recovery, services, triggers
from routing.drift import Drift

log = logging.getLogger(__name__)

SWEEP_EVERY_SECONDS = 2.0
# Waiting orders are woken by pool changes; this pass only catches a check
# that failed, or pools that changed while no engine ran.
RECHECK_TRIGGERS_EVERY_SECONDS = 30.0
# The longest the clock waits in one go: a timer whose wake-up went to no
# clock (Redis lost the push; or, with several clocks, the one that took it
# stopped, or is busy in a long sweep) is late by no more than this.
MAX_WAIT_SECONDS = 1.0


class _Stopped(BaseException):
    """Raised by SIGTERM or SIGINT during the wait for timers."""


class Command(BaseCommand):
    help = "Run the engine clock: timers, admission, crash recovery and market drift."

    def handle(self, *args, **options):
        self._running, self._waiting = True, False
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        tick = settings.CLOCK_TICK_SECONDS
        drift = Drift()
        checkpointer = sqlite_checkpointer()
        try:
            self._keep_time(tick, drift)
        finally:
            if checkpointer:
                checkpointer.stop()
        log.info("clock stopped")

    def _keep_time(self, tick: float, drift: Drift) -> None:
        next_sweep = next_drift = next_recheck = time.monotonic()
        log.info("clock started; tick %.3fs", tick)
        while self._running:
            started = time.monotonic()
            try:
                # As a request would: a connection the database dropped (a
                # restart) is replaced, where the clock would otherwise fail
                # on it every tick, and sweep, expire and admit nothing.
                close_old_connections()
                dispatch.release_due_timers()
                if started >= next_sweep:
                    dispatch.note_the_clock_alive()
                    recovery.sweep()
                    triggers.orders_expire()
                    # Placements ask for admission themselves; this catches the
                    # ones Redis lost, and slots freed while no one was asking.
                    services.admission_looked_after()
                    next_sweep = started + SWEEP_EVERY_SECONDS
                if started >= next_recheck:
                    triggers.check_pairs(triggers.waiting_pairs())
                    next_recheck = started + RECHECK_TRIGGERS_EVERY_SECONDS
                if settings.MARKET_DRIFT_SECONDS and started >= next_drift:
                    next_drift = started + drift.step(settings.MARKET_DRIFT_SECONDS)
                # One pass a tick at most, as timers come due under load; with
                # none due, wait for the next one, the next step, or new timers,
                # rather than wake every tick to find nothing (most of an idle
                # engine's CPU).
                time.sleep(max(0.0, tick - (time.monotonic() - started)))
                # The periodic steps may come a little late; timers may not,
                # and the wait ends in time for the earliest one.
                wake = min(next_sweep, next_recheck)
                if settings.MARKET_DRIFT_SECONDS:
                    wake = min(wake, next_drift)
                self._waiting = True
                try:
                    if not self._running:  # stopped since the loop's test
                        raise _Stopped
                    dispatch.wait_for_timers(min(MAX_WAIT_SECONDS, wake - time.monotonic()))
                finally:
                    self._waiting = False
            except _Stopped:
                break
            except Exception:
                # Redis or the database may be down for a while; keep ticking.
                log.exception("clock tick failed")
                time.sleep(1)

    def _stop(self, signum, frame):
        self._running = False
        if self._waiting:
            raise _Stopped  # out of the wait: nothing is half done there
