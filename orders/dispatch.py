"""Putting order work on the queue, now or at a time.

Delayed work (a swap that settles in 2-3 s, a retry after back-off) is not
left waiting inside a worker: it goes into a Redis sorted set of timers,
scored by due time, and the engine clock (`manage.py run_clock`) moves due
timers onto the queue. An order waiting on the chain therefore costs a few
bytes in Redis, not a worker process.
"""

import os
import time

import django_rq

QUEUE = "orders"
TIMERS_KEY = "orders:timers"
# A job that runs longer than this is killed by rq; the sweeper resumes the order.
JOB_TIMEOUT = 30


_clients: dict = {}


def redis():
    """This process's Redis client. Made once (a new client per call cost
    1.7 ms of CPU and a connection); made anew in a forked child."""
    if _clients.get("pid") != os.getpid():
        _clients.clear()
        _clients.update(pid=os.getpid(), redis=django_rq.get_connection(QUEUE))
    return _clients["redis"]


def queue():
    connection = redis()
    if "queue" not in _clients:
        _clients["queue"] = django_rq.get_queue(QUEUE, connection=connection)
    return _clients["queue"]


def enqueue(job: str, order_id) -> None:
    """Run `orders.jobs.<job>(order_id)` on a worker as soon as one is free."""
    queue().enqueue(f"orders.jobs.{job}", str(order_id), job_timeout=JOB_TIMEOUT, result_ttl=0)


def enqueue_at(job: str, order_id, due: float) -> None:
    """Run the job at unix time `due` (or at once, if that has passed)."""
    if due <= time.time():
        enqueue(job, order_id)
    else:
        redis().zadd(TIMERS_KEY, {f"{job}:{order_id}": due})


def release_due_timers(*, now: float | None = None, limit: int = 1000) -> int:
    """Enqueue every timer that is due. Safe to run in several clocks at once:
    ZREM answers 1 to exactly one of them for each timer."""
    connection = redis()
    due = connection.zrangebyscore(TIMERS_KEY, "-inf", now or time.time(), start=0, num=limit)
    released = 0
    for member in due:
        if connection.zrem(TIMERS_KEY, member):
            job, _, order_id = member.decode().partition(":")
            enqueue(job, order_id)
            released += 1
    return released
