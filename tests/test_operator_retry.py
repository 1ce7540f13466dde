"""An operator's retry of a failed order is one new order, on the same
terms, however many operators ask for it at once."""

import threading
from datetime import datetime
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


def test_a_retried_limit_order_waits_again_on_its_terms_and_holds_up_no_order(engine):
    placed = engine.place({"type": "limit", "amount": "1", "limitPrice": "1000", "expiresInSeconds": 2})
    assert engine.wait_terminal(placed["orderId"], timeout=15)["errorCode"] == "expired"

    retry = services.order_retry_failed(order=Order.objects.get(pk=placed["orderId"]))

    again = engine.order(str(retry.pk))
    assert (again["type"], again["status"], again["limitPrice"]) == ("limit", "waiting", "1000")
    lifetime = datetime.fromisoformat(again["expiresAt"]) - datetime.fromisoformat(again["createdAt"])
    assert 1.9 <= lifetime.total_seconds() <= 2.1
    # Admission goes on for every other order.
    market = engine.place({"amount": "1"})["orderId"]
    assert engine.wait_terminal(market)["status"] == "confirmed"
    assert engine.wait_terminal(str(retry.pk), timeout=15)["errorCode"] == "expired"


def test_a_ready_order_whose_limit_cannot_be_checked_fails_alone(engine):
    """A limit order with no limit (no code path writes one) raises in the
    check before admission: it fails, and orders behind it go on."""
    broken = Order.objects.create(
        type="limit", token_in="SOL", token_out="USDC", amount=Decimal(1), status=OrderStatus.PENDING
    )
    market = engine.place({"amount": "1"})["orderId"]

    assert engine.wait_terminal(market)["status"] == "confirmed"
    assert engine.wait_terminal(str(broken.pk))["errorCode"] == "internal_error"
