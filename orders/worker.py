"""The engine's rq worker (settings.RQ's WORKER_CLASS): a SimpleWorker, which
runs its jobs in its own process rather than forking one per job, whose stop
signals always reach its main thread, whose registration lapses soon after
it dies and comes back if Redis lost it, and which stops when its pool dies.

Stopping the engine sends SIGTERM to the worker pool's whole process group
(Ctrl-C sends SIGINT alike), and the pool then sends each worker SIGINT. A
worker's main thread waits on Redis for its next job (405 s at a time with
rq's defaults, 45 s here); when its other thread took both signals
(config/threads.py), the stop went unheard for as long: 2 stops in 12 on a
2-core machine. That thread, rq's listener for commands sent to the worker,
is started here with the signals blocked. The quote and broadcast thread
pools, which jobs do not use today, block them too.
"""

import ctypes
import multiprocessing
import os
import signal
import sys

from rq import Queue, worker_registration
from rq.utils import now, utcformat
from rq.worker import SimpleWorker

from config.threads import signals_held

PR_SET_PDEATHSIG = 1  # linux/prctl.h

# An idle worker renews its registration after waiting this long less 15 s
# for a job, and it lapses this long plus 60 s after the last renewal: a
# killed worker leaves /api/health's count within 2 minutes (8 with rq's
# default of 420 s, which `manage.py rqworker` passes unless told otherwise).
WORKER_TTL_SECONDS = 60


class OrderWorker(SimpleWorker):
    def __init__(self, *args, worker_ttl: int | None = None, **kwargs):
        super().__init__(*args, worker_ttl=worker_ttl or WORKER_TTL_SECONDS, **kwargs)
        stop_with_the_pool()

    def subscribe(self):
        with signals_held():
            super().subscribe()

    def heartbeat(self, timeout: int | None = None, pipeline=None):
        """rq's heartbeat, which also registers the worker again if its
        registration is gone: Redis restarted without its data, or was away
        longer than the registration lasts and a maintenance pass dropped it.
        rq's own only set the time on a hash of that one field, which the
        registry no longer listed, and /api/health counted 0 workers until
        they restarted. The time's HSET tells, at no extra round trip: it
        adds a field only to a hash that was gone. (With a pipeline, during
        a job, the reply is not to hand; the heartbeat after it will do.)"""
        if pipeline is not None:
            return super().heartbeat(timeout, pipeline)
        self.last_heartbeat = now()
        added = self.connection.hset(self.key, "last_heartbeat", utcformat(self.last_heartbeat))
        if added and self.birth_date is not None:  # registered once, by rq's start-up
            self.log.warning("Worker %s: its registration was gone; registering again", self.name)
            with self.connection.pipeline() as again:
                again.hset(self.key, mapping=self.serialize())
                worker_registration.register(self, again)
                again.execute()
        self.connection.expire(self.key, timeout or self.worker_ttl + 60)


def workers_alive(queue: Queue) -> int:
    """The queue's workers whose registration has not lapsed. rq's registry
    keeps a worker that was killed until a worker's maintenance pass, every
    10 minutes."""
    keys = worker_registration.get_keys(queue)
    return queue.connection.exists(*keys) if keys else 0


def stop_with_the_pool() -> None:
    """In a worker pool's worker (`rqworker-pool` forks them), ask the
    kernel for SIGTERM, a warm stop, when the pool dies. A pool killed
    outright (SIGKILL, the out-of-memory killer) left its workers running
    jobs with no one to stop or replace them. A worker started on its own
    (`manage.py rqworker`) is left alone: its parent may be a shell that
    exits as it should."""
    pool = multiprocessing.parent_process()
    if pool is None or not sys.platform.startswith("linux"):
        return
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != pool.pid:  # the pool died before the request
        os.kill(os.getpid(), signal.SIGTERM)
