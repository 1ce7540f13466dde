"""On PostgreSQL a persistent connection is health-checked at most once a
second (config/postgresql), and one the server dropped is replaced."""

import time

import pytest
from django.db import OperationalError, close_old_connections, connection, connections

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's connection wrapper"),
]


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _drop_on_the_server(pid: int) -> None:
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        other.close()


@pytest.fixture
def checks(monkeypatch) -> list:
    done = []
    is_usable = connection.is_usable
    monkeypatch.setattr(connection, "is_usable", lambda: done.append(1) or is_usable())
    return done


def test_a_request_within_a_second_of_the_last_check_skips_it(checks):
    _backend_pid()  # the connection is open, and counts as checked
    close_old_connections()  # a request starts
    _backend_pid()
    assert checks == []

    connection.checked_at = time.monotonic() - 2
    close_old_connections()
    _backend_pid()
    assert checks == [1]


def test_a_connection_the_server_dropped_is_replaced_once_the_second_has_passed(checks):
    pid = _backend_pid()
    _drop_on_the_server(pid)
    connection.checked_at = time.monotonic() - 2

    close_old_connections()
    assert _backend_pid() != pid


def test_within_the_second_a_dropped_connection_fails_one_request_and_the_next_reconnects():
    pid = _backend_pid()
    _drop_on_the_server(pid)

    close_old_connections()
    with pytest.raises(OperationalError):
        _backend_pid()
    close_old_connections()  # the next request
    assert _backend_pid() != pid
