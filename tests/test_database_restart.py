"""PostgreSQL drops every connection (a restart, a failover, a pooler's idle
timeout): the engine's workers and clock carry on with new connections, as
its web processes do, and every order placed after it is executed."""

import pytest
from django.db import connection

from orders.models import Order
from tests.engine import wait_until

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="a SQLite file has no connection to drop"
)


def drop_every_other_connection() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def test_orders_placed_after_the_database_dropped_every_connection_are_executed(engines, market):
    engine = engines()
    first = engine.place({"amount": "0.1"})["orderId"]
    assert engine.wait_terminal(first)["status"] == "confirmed"  # workers and clock hold connections now

    assert drop_every_other_connection() >= 3  # web threads, workers, the clock

    def placed():
        # A web thread that checked its connection within the last second
        # answers one request 503 before it reconnects.
        status, answer = engine.request("POST", "/api/orders/execute", {"amount": "0.1"})
        return answer["orderId"] if status == 202 else None

    order_ids = [wait_until(placed, timeout=10, message="a placement") for _ in range(3)]

    def statuses():
        found = dict(Order.objects.filter(pk__in=order_ids).values_list("pk", "status"))
        return all(status == "confirmed" for status in found.values()) and len(found) == 3

    wait_until(statuses, timeout=60, interval=0.2, message="the orders placed after the drop to be confirmed")
