"""The engine's rq worker (settings.RQ's WORKER_CLASS): a SimpleWorker, which
runs its jobs in its own process rather than forking one per job, whose stop
signals always reach its main thread.

Stopping the engine sends SIGTERM to the worker pool's whole process group
(`make run` stopping, Ctrl-C's SIGINT alike), and the pool then sends each
worker SIGINT. The kernel hands a signal sent to a process to any of its
threads that does not block it, and passes over the main thread when that one
already has a signal pending. Python runs its handlers on the main thread
only, once that thread runs Python again; a worker's main thread waits on
Redis for its next job for up to 405 s, and went on waiting, the stop unheard
(2 stops in 12 here). rq's listener for commands sent to the worker is a
worker's one other thread; started with the signals blocked, it never takes
them.
"""

import signal
from contextlib import contextmanager

from rq.worker import SimpleWorker

STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


@contextmanager
def stop_signals_held():
    """Block the stop signals in this thread meanwhile. A thread started
    inside inherits the block for its life; a signal sent meanwhile is taken
    at the end."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class OrderWorker(SimpleWorker):
    def subscribe(self):
        with stop_signals_held():
            super().subscribe()
