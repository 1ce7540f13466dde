"""The engine's rq worker (settings.RQ's WORKER_CLASS): a SimpleWorker, which
runs its jobs in its own process rather than forking one per job, whose stop
signals always reach its main thread and whose registration lapses soon
after it dies.

Stopping the engine sends SIGTERM to the worker pool's whole process group
(Ctrl-C sends SIGINT alike), and the pool then sends each worker SIGINT. A
worker's main thread waits on Redis for its next job (405 s at a time with
rq's defaults, 45 s here); when its other thread took both signals
(config/threads.py), the stop went unheard for as long: 2 stops in 12 on a
2-core machine. That thread, rq's listener for commands sent to the worker,
is started here with the signals blocked. The quote and broadcast thread
pools, which jobs do not use today, block them too.
"""

from rq import Queue, worker_registration
from rq.worker import SimpleWorker

from config.threads import signals_held

# An idle worker renews its registration after waiting this long less 15 s
# for a job, and it lapses this long plus 60 s after the last renewal: a
# killed worker leaves /api/health's count within 2 minutes (8 with rq's
# default of 420 s, which `manage.py rqworker` passes unless told otherwise).
WORKER_TTL_SECONDS = 60


class OrderWorker(SimpleWorker):
    def __init__(self, *args, worker_ttl: int | None = None, **kwargs):
        super().__init__(*args, worker_ttl=worker_ttl or WORKER_TTL_SECONDS, **kwargs)

    def subscribe(self):
        with signals_held():
            super().subscribe()


def workers_alive(queue: Queue) -> int:
    """The queue's workers whose registration has not lapsed. rq's registry
    keeps a worker that was killed until a worker's maintenance pass, every
    10 minutes."""
    keys = worker_registration.get_keys(queue)
    return queue.connection.exists(*keys) if keys else 0
