"""An operator's retry of a failed order is one new order, however many
operators ask for it at once."""

import threading
from decimal import Decimal

import pytest
from django.db import connection, connections, transaction

from orders import services
from orders.models import Order, OrderStatus
from tests.engine import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def _waiting_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # else the transaction's first look stays
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO \"orders_order\"%'"
        )
        return cursor.fetchone()[0] > 0


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL shows who waits on a lock")
def test_two_operators_retrying_one_order_at_once_make_one_retry():
    failed = Order.objects.create(
        token_in="SOL", token_out="USDC", amount=Decimal(1), status=OrderStatus.FAILED
    )
    second: dict = {}

    def second_operator():
        try:
            second["retry"] = services.order_retry_failed(order=Order.objects.get(pk=failed.pk))
        except Exception as error:
            second["error"] = error
        finally:
            connections.close_all()

    with transaction.atomic():
        first = services.order_retry_failed(order=failed)
        # The second operator finds no retry yet (this one is not committed),
        # and its own insert waits on this one's entry in `order_retried_once`.
        operator = threading.Thread(target=second_operator)
        operator.start()
        wait_until(_waiting_on_a_lock, timeout=10, message="the second retry to wait for the first")
    operator.join(timeout=10)

    assert second == {"retry": None}
    assert [order.pk for order in Order.objects.filter(retry_of=failed)] == [first.pk]
