"""The admission lock of a worker killed mid-round holds no settlement up:
the orders in flight go on, and the slots they free wait for an admission
job. On the holder's machine the job sees the holder is gone and takes its
lock down; elsewhere it waits the lock out."""

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from orders import dispatch, jobs, lock_holder, services
from orders.models import Order, OrderStatus


@pytest.fixture
def lock_of_a_killed_worker(transactional_db):
    connection = dispatch.redis()
    dispatch.queue().empty()
    connection.delete(services.ADMISSION_REQUESTED)
    held = connection.lock(services.ADMISSION_LOCK, timeout=services.ADMISSION_LOCK_SECONDS)
    assert held.acquire(blocking=False)
    yield held
    held.release()
    dispatch.queue().empty()
    connection.delete(services.ADMISSION_REQUESTED, services.ORDERS_PLACED)


@pytest.mark.parametrize("request_before", [None, b"slot"])
def test_a_settlement_leaves_its_freed_slots_to_an_admission_job(lock_of_a_killed_worker, request_before):
    # "slot": an admission job found no free slot and left its request for
    # whatever frees one; it must not keep this settlement from queuing a job.
    if request_before:
        dispatch.redis().set(services.ADMISSION_REQUESTED, request_before, ex=10)

    with ThreadPoolExecutor(1) as thread:
        # What a settlement that freed slots runs (orders.jobs._admit_into_freed).
        settling = thread.submit(jobs.admit_orders, linger=0, job=False)
        # It used to wait the lock's 30 s out, then fail; it waits about 1 s.
        assert settling.result(timeout=services.ADMISSION_LOCK_SECONDS / 2) == 0

    assert dispatch.redis().get(services.ADMISSION_REQUESTED) == b"queued"
    assert [job.func_name for job in dispatch.queue().jobs] == ["orders.jobs.admit_orders"]


@pytest.fixture
def lock_of_a_process_that_is_gone(transactional_db):
    """The admission lock as a worker killed mid-round leaves it: its token
    names a process of this machine that exists no more."""
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    connection = dispatch.redis()
    dispatch.queue().empty()
    connection.delete(services.ADMISSION_REQUESTED)
    token = f"{lock_holder.this_machine()}:{gone.pid}:killed-mid-round"
    connection.set(services.ADMISSION_LOCK, token, px=services.ADMISSION_LOCK_SECONDS * 1000)
    yield
    connection.delete(services.ADMISSION_LOCK, services.ADMISSION_REQUESTED, services.ORDERS_PLACED)
    dispatch.queue().empty()


@pytest.mark.skipif(lock_holder.this_machine() is None, reason="tells a gone process only on Linux")
def test_an_admission_job_takes_down_the_lock_of_a_process_that_is_gone(
    lock_of_a_process_that_is_gone, market, monkeypatch
):
    monkeypatch.setattr(services, "request_admission", lambda: None)
    order, _ = services.order_place(amount=Decimal("0.5"), token_in="SOL", token_out="USDC")

    with ThreadPoolExecutor(1) as thread:
        admitting = thread.submit(jobs.admit_orders, linger=0)
        # It used to wait the lock's 30 s out, then fail; it waits about 1 s.
        assert admitting.result(timeout=services.ADMISSION_LOCK_SECONDS / 3) == 1

    assert Order.objects.get(pk=order.pk).status != OrderStatus.PENDING


def test_a_holder_that_may_be_alive_is_waited_for():
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        here = lock_holder.this_machine()
        assert not lock_holder.holder_is_gone(f"{here}:{alive.pid}:x".encode())
        assert not lock_holder.holder_is_gone(f"another-machine:{alive.pid + 99999}:x".encode())
        assert not lock_holder.holder_is_gone(None)
    finally:
        alive.kill()
        alive.wait()
