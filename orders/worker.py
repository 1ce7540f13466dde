"""The engine's rq worker (settings.RQ's WORKER_CLASS): a SimpleWorker, which
runs its jobs in its own process rather than forking one per job, whose stop
signals always reach its main thread and whose registration lapses soon
after it dies.

Stopping the engine sends SIGTERM to the worker pool's whole process group
(`make run` stopping, Ctrl-C's SIGINT alike), and the pool then sends each
worker SIGINT. The kernel hands a signal sent to a process to any of its
threads that does not block it, and passes over the main thread when that one
already has a signal pending. Python runs its handlers on the main thread
only, once that thread runs Python again; a worker's main thread waits on
Redis for its next job (405 s at a time with rq's defaults, 45 s here), and
went on waiting, the stop unheard (2 stops in 12 here). rq's listener for commands sent to the worker is a
worker's one other thread; started with the signals blocked, it never takes
them.
"""

import signal
from contextlib import contextmanager

from rq import Queue, worker_registration
from rq.worker import SimpleWorker

STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}
# An idle worker renews its registration after waiting this long less 15 s
# for a job, and it lapses this long plus 60 s after the last renewal. With
# rq's 420 s, /api/health counted a killed worker for 8 minutes; now 2.
WORKER_TTL_SECONDS = 60


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
    def __init__(self, *args, worker_ttl: int | None = None, **kwargs):
        super().__init__(*args, worker_ttl=worker_ttl or WORKER_TTL_SECONDS, **kwargs)

    def subscribe(self):
        with stop_signals_held():
            super().subscribe()


def workers_alive(queue: Queue) -> int:
    """The queue's workers whose registration has not lapsed. rq's registry
    keeps a worker that was killed until a worker's maintenance pass, every
    10 minutes."""
    keys = worker_registration.get_keys(queue)
    return queue.connection.exists(*keys) if keys else 0
