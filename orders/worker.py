"""The engine's rq worker (settings.RQ's WORKER_CLASS): a SimpleWorker, which
runs its jobs in its own process rather than forking one per job (and forks
no scheduler either), which reads the pools before its first job, whose stop
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
import logging
import multiprocessing
import os
import signal
import sys

from django.db import DatabaseError, close_old_connections, connections
from rq import Queue, worker_registration
from rq.utils import now
from rq.worker import SimpleWorker

from config.threads import signals_held

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1  # linux/prctl.h

# An idle worker renews its registration after waiting this long less 15 s
# for a job, and it lapses this long plus 60 s after the last renewal: a
# killed worker leaves /api/health's count within 2 minutes (8 with rq's
# default of 420 s, which `manage.py rqworker` passes unless told otherwise).
WORKER_TTL_SECONDS = 60


class OrderWorker(SimpleWorker):
    def __init__(self, *args, worker_ttl: int | None = None, **kwargs):
        super().__init__(*args, worker_ttl=worker_ttl or WORKER_TTL_SECONDS, **kwargs)

    def work(self, *args, **kwargs):
        # Without rq's scheduler, which rq's worker pool asks every worker
        # for: nothing is scheduled through rq (the engine's timers are the
        # clock's, orders.dispatch). It is a process forked from a worker,
        # as it starts or whenever it takes the scheduler's lock over, that
        # renews the lock every few seconds and holds a copy of the worker's
        # database connection: a worker killed in a transaction then left
        # its PostgreSQL session, and its row locks, to the child.
        kwargs["with_scheduler"] = False
        warm_up()
        return super().work(*args, **kwargs)

    def perform_job(self, job, queue):
        # Django replaces a broken or old connection only where a request
        # starts or ends, and a worker serves none: after a database restart
        # (or a dropped connection) every later job of this worker failed on
        # the dead connection, and the sweep queued its orders again, for ever.
        close_old_connections()
        return super().perform_job(job, queue)

    def subscribe(self):
        with signals_held():
            super().subscribe()

    def heartbeat(self, timeout: int | None = None, pipeline=None):
        """rq's heartbeat, which also writes the worker's registration whole
        and lists it in the registry again: after Redis restarted without
        its data (or was away longer than a registration lasts, and a
        maintenance pass dropped it), rq's own set the time on a hash of
        that one field, which the registry no longer listed, and
        /api/health counted 0 workers until they restarted. One round trip,
        as rq's two commands were two. (With a pipeline, during a job, it
        is rq's; the heartbeat after the job writes it whole.)"""
        if pipeline is not None or self.birth_date is None:
            return super().heartbeat(timeout, pipeline)
        self.last_heartbeat = now()
        with self.connection.pipeline() as beat:
            beat.hset(self.key, mapping=self.serialize())
            beat.expire(self.key, timeout or self.worker_ttl + 60)
            worker_registration.register(self, beat)
            beat.execute()

    def _install_signal_handlers(self):
        super()._install_signal_handlers()
        # Only now: a worker the pool starts again inherits the pool's own
        # SIGTERM handler, which would not stop it, until rq installs its.
        stop_with_the_pool()


def warm_up() -> None:
    """Before the first job: import the jobs and read every pool's state.
    A worker's first admission round did both under SQLite's write lock,
    25-50 ms longer than the next, and every placement waited behind it.

    The connection it read them on is closed again, as a process about to
    run its first job would have none open: a child forked meanwhile would
    hold the socket too, and keep PostgreSQL's session of a killed worker
    alive, idle in its transaction, with its row locks."""
    from orders import jobs  # noqa: F401  (rq imports each job's function by its name)
    from routing.session import keep_all_states

    try:
        keep_all_states()
    except DatabaseError as error:
        # The first job reads what it needs, and reports a database still down.
        log.warning("could not read the pools before the first job: %s", error)
    finally:
        connections.close_all()


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
    # The kernel sends it when the thread that forked this process ends: the
    # pool forks its workers from its main thread, which ends with the pool.
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != pool.pid:  # the pool died before the request
        os.kill(os.getpid(), signal.SIGTERM)
