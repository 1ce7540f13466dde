"""Putting order work on the queue, now or at a time.

A job carries many orders at once: their ids are its arguments, and one
job is one transaction for all of them (see orders.jobs). Delayed work (a
swap that settles in 2-3 s, a retry after back-off) is not left waiting
inside a worker: it goes into a Redis sorted set of timers, scored by due
time, and the engine clock (`manage.py run_clock`) moves due timers onto the
queue, the ones due together as one job. An order waiting on the chain
therefore costs a few bytes in Redis, not a worker process.
"""

import time
from collections import defaultdict
from collections.abc import Iterable

import django_rq
from redis.exceptions import TimeoutError as RedisTimeoutError

from config.per_process import per_process

QUEUE = "orders"
TIMERS_KEY = "orders:timers"
# A one-item list, pushed whenever timers are added, which a clock that
# waits for the next due timer (wait_for_timers) pops to wake up at once.
TIMERS_ADDED_KEY = "orders:timers:added"
# How long before the earliest timer is due a blocking wait for timers ends.
BLOCK_MARGIN = 0.15
# A job that runs longer than this is killed by rq; the sweeper resumes the order.
JOB_TIMEOUT = 30
# The most orders one job carries.
BATCH_SIZE = 100


def redis():
    """This process's Redis client."""
    return per_process("redis", lambda: django_rq.get_connection(QUEUE))


def queue():
    return per_process("queue", lambda: django_rq.get_queue(QUEUE, connection=redis()))


def enqueue(job: str, order_ids: Iterable) -> None:
    """Run `orders.jobs.<job>(*order_ids)` on a worker as soon as one is free,
    BATCH_SIZE orders a job."""
    ids = [str(order_id) for order_id in order_ids]
    for start in range(0, len(ids), BATCH_SIZE):
        chunk = ids[start : start + BATCH_SIZE]
        queue().enqueue(f"orders.jobs.{job}", *chunk, job_timeout=JOB_TIMEOUT, result_ttl=0)


def enqueue_at(job: str, due: dict) -> None:
    """Run the job for each order at its unix time in `due` ({order id: time});
    at once for the ones whose time has passed."""
    now = time.time()
    enqueue(job, [order_id for order_id, at in due.items() if at <= now])
    later = {f"{job}:{order_id}": at for order_id, at in due.items() if at > now}
    if later:
        # In this order on the one connection: a clock woken by the push
        # finds the timers already in the set.
        pipeline = redis().pipeline(transaction=False)
        pipeline.zadd(TIMERS_KEY, later)
        pipeline.lpush(TIMERS_ADDED_KEY, 1)
        pipeline.ltrim(TIMERS_ADDED_KEY, 0, 0)
        pipeline.execute()


def waiting_on_a_timer(order_ids: list[str], jobs=("execute_orders", "advance_orders")) -> set[str]:
    """The orders among these with a timer not yet due: their work is not lost."""
    members = [f"{job}:{order_id}" for order_id in order_ids for job in jobs]
    if not members:
        return set()
    pipeline = redis().pipeline(transaction=False)
    for member in members:
        pipeline.zscore(TIMERS_KEY, member)
    now = time.time()
    return {
        member.partition(":")[2]
        for member, due in zip(members, pipeline.execute(), strict=True)
        if due is not None and due > now
    }


# The clock says it is alive every SWEEP_EVERY_SECONDS (2 s); without one, no
# timer is released and no quote or settlement comes due: health says so.
CLOCK_ALIVE_KEY = "orders:clock:alive"
CLOCK_ALIVE_SECONDS = 10


def note_the_clock_alive() -> None:
    redis().set(CLOCK_ALIVE_KEY, 1, ex=CLOCK_ALIVE_SECONDS)


def clock_heard_from() -> bool:
    return bool(redis().exists(CLOCK_ALIVE_KEY))


def release_due_timers(*, now: float | None = None, limit: int = 1000) -> int:
    """Enqueue every timer that is due, the ones of a job together. Safe to run
    in several clocks at once: ZREM answers 1 to exactly one of them for each
    timer."""
    connection = redis()
    due = connection.zrangebyscore(TIMERS_KEY, "-inf", now or time.time(), start=0, num=limit)
    if not due:
        return 0
    pipeline = connection.pipeline(transaction=False)
    for member in due:
        pipeline.zrem(TIMERS_KEY, member)
    by_job = defaultdict(list)
    for member, removed in zip(due, pipeline.execute(), strict=True):
        if removed:
            job, _, order_id = member.decode().partition(":")
            by_job[job].append(order_id)
    for job, order_ids in by_job.items():
        enqueue(job, order_ids)
    return sum(len(order_ids) for order_ids in by_job.values())


def next_timer_due() -> float | None:
    """The unix time the earliest timer is due at, or None with no timer set."""
    first = redis().zrange(TIMERS_KEY, 0, 0, withscores=True)
    return first[0][1] if first else None


def wait_for_timers(longest: float) -> bool:
    """Wait up to `longest` seconds for timers to be added, less if one is
    due sooner; True if woken by an addition (or one made before the call).

    Redis checks a blocked client's timeout only when its event loop wakes,
    `hz` times a second (10 by default), so a BLPOP may time out up to 100
    ms late. So the wait ends BLOCK_MARGIN before the earliest timer is due,
    and does not begin when that is nearer: the clock then looks again after
    a tick, as it would anyway. Nor does it outlast the connection's socket
    timeout, if one is set."""
    connection = redis()
    due = next_timer_due()
    if due is not None:
        longest = min(longest, due - time.time() - BLOCK_MARGIN)
    socket_timeout = connection.connection_pool.connection_kwargs.get("socket_timeout")
    if socket_timeout:
        longest = min(longest, socket_timeout - BLOCK_MARGIN)
    if longest < 0.01:  # BLPOP's timeout of 0 would block for ever
        return False
    try:
        if connection.blpop([TIMERS_ADDED_KEY], timeout=longest) is None:
            return False
    except RedisTimeoutError:
        return False
    # Every push up to now is answered by the look at the set that follows.
    connection.delete(TIMERS_ADDED_KEY)
    return True
