"""A worker reads every pool's state before its first job (orders.worker),
which would otherwise parse the pools' bins while holding SQLite's write
lock, with every placement waiting behind it; and it starts no rq
scheduler."""

import os
import signal

import pytest
from django.db import connections

from orders import dispatch
from orders.worker import OrderWorker, warm_up
from routing import session
from routing.models import Pool


@pytest.fixture
def nothing_kept():
    session._known_states.clear()
    yield
    session._known_states.clear()


def kept_versions() -> dict[int, int]:
    return {pool_id: version for pool_id, (version, _state) in session._known_states.items()}


def test_warming_up_keeps_the_state_of_every_pool(market, nothing_kept):
    warm_up()

    assert kept_versions() == dict(Pool.objects.values_list("id", "version"))


def test_warming_up_leaves_no_connection_open(market, nothing_kept):
    """A child forked from the worker after it (rq's scheduler did) would
    hold the connection too."""
    warm_up()

    assert all(connection.connection is None for connection in connections.all())


def test_a_worker_warms_up_before_it_takes_a_job_and_starts_no_scheduler(market, nothing_kept, test_redis):
    queue = dispatch.queue()
    worker = OrderWorker([queue], connection=queue.connection, name=f"warm-{os.getpid()}")
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        # As rq's worker pool starts it; the queue is empty: it starts, finds nothing and stops.
        worker.work(burst=True, with_scheduler=True)
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)

    assert kept_versions() == dict(Pool.objects.values_list("id", "version"))
    assert worker.scheduler is None  # no scheduler process, now or later
