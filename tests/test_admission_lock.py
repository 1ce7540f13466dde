"""The admission lock of a worker killed mid-round holds no settlement up:
the orders in flight go on, and the slots they free wait for an admission
job, which waits out the dead holder's lock."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from orders import dispatch, jobs, services


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
