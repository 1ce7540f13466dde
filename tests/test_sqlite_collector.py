"""No garbage collection starts in a process while one of its threads holds
SQLite's write lock (config/sqlite/base.py): a collection stops the whole
process, and every writer of every process would wait for it."""

import gc
import os

import pytest
from django.db import connection, transaction

from orders.models import Order
from tests.halves import sqlite_half_only

pytestmark = [sqlite_half_only("SQLite's write lock"), pytest.mark.django_db(transaction=True)]


def cycles(count: int) -> None:
    """`count` lists that refer to themselves: garbage only a collection frees."""
    for _ in range(count):
        garbage = []
        garbage.append(garbage)


@pytest.fixture
def collections():
    """The collections that start from now on."""
    started = []

    def note(phase, info):
        if phase == "start":
            started.append(info["generation"])

    gc.callbacks.append(note)
    yield started
    gc.callbacks.remove(note)


def test_the_collector_waits_while_a_transaction_holds_the_write_lock(collections):
    with transaction.atomic():
        Order.objects.exists()
        assert not gc.isenabled()
        cycles(10 * gc.get_threshold()[0])
        assert collections == []

    assert gc.isenabled()
    cycles(1)
    assert collections  # the collection that came due ran at the next allocation


def test_the_collector_is_on_again_after_a_rollback():
    with pytest.raises(RuntimeError), transaction.atomic():
        assert not gc.isenabled()
        raise RuntimeError("rolled back")

    assert gc.isenabled()


def test_a_process_that_turned_the_collector_off_keeps_it_off():
    gc.disable()
    try:
        with transaction.atomic():
            Order.objects.exists()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_lock_taken_again_inside_a_transaction_counts_once():
    with transaction.atomic():
        Order.objects.exists()
        with connection.writers_held():
            assert not gc.isenabled()
    assert gc.isenabled()


def test_a_connection_closed_inside_a_transaction_lets_the_collector_go():
    with transaction.atomic():
        Order.objects.exists()
        connection.close()
        assert gc.isenabled()
    with transaction.atomic():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_child_forked_while_the_lock_is_held_collects():
    with transaction.atomic():
        Order.objects.exists()
        child = os.fork()
        if child == 0:
            os._exit(0 if gc.isenabled() else 1)
        _pid, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
