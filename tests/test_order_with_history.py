"""Order.with_history runs a statement of its own, written once: what it reads
is what Django's ORM reads from the same rows, on either database."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from orders.models import Order, OrderEvent


def every_field(instance) -> dict:
    """Each column's value and its Python type, so a value decoded wrongly
    (a decimal as a string, JSON left as text, a naive datetime) shows."""
    values = {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}
    return {name: (type(v).__name__, v, getattr(v, "tzinfo", None)) for name, v in values.items()}


# As the router stores it: in base units.
LEG = {"dex": "meteora", "amountIn": "1250000001", "amountOut": "187400000", "shareBps": 10000}


@pytest.fixture
def traded_order(db):
    now = timezone.now()
    first = Order.objects.create(amount=Decimal("0.05"), token_in="SOL", token_out="USDC", status="failed")
    order = Order.objects.create(
        type="limit",
        amount=Decimal("1.250000001"),
        token_in="SOL",
        token_out="USDC",
        slippage_bps=75,
        status="confirmed",
        dex="meteora",
        quotes=[{"dex": "raydium", "amountOut": "187.1"}, {"dex": "meteora", "amountOut": "187.4"}],
        route={"legs": [LEG]},
        expected_amount_out=Decimal("187.4"),
        min_amount_out=Decimal("186.463"),
        amount_out=Decimal("187.39"),
        executed_price=Decimal("149.912"),
        tx_hash="5" * 88,
        settles_at=now,
        attempt=2,
        limit_price=Decimal("150"),
        trigger_price=150.0,
        expires_at=now + timedelta(hours=1),
        triggered_at=now - timedelta(seconds=3),
        retry_of=first,
        idempotency_key="key-1",
        request_fingerprint="f" * 64,
    )
    steps = [("pending", 1, -3), ("waiting", 1, -3), ("routing", 2, -2), ("confirmed", 2, 0)]
    for status, attempt, seconds in steps:
        at = now + timedelta(seconds=seconds)
        OrderEvent.objects.create(order=order, status=status, attempt=attempt, at=at, data={"n": seconds})
    return order


def test_an_order_and_its_history_read_as_the_orm_reads_them(traded_order, django_assert_num_queries):
    with django_assert_num_queries(1):
        order, events = Order.with_history(traded_order.pk)

    expected = Order.objects.get(pk=traded_order.pk)
    assert every_field(order) == every_field(expected)
    # In the order they were written.
    assert [every_field(event) for event in events] == [every_field(event) for event in expected.events.all()]
    assert [event.status for event in events] == ["pending", "waiting", "routing", "confirmed"]
    assert all(event.order is order for event in events)


def test_an_order_with_no_history_yet_is_read_alone(db, django_assert_num_queries):
    placed = Order.objects.create(amount=Decimal("0.05"), token_in="SOL", token_out="USDC")

    with django_assert_num_queries(1):
        order, events = Order.with_history(str(placed.pk))

    assert every_field(order) == every_field(Order.objects.get(pk=placed.pk))
    assert events == []


def test_an_unknown_order_has_no_history(db):
    assert Order.with_history(uuid.uuid4()) is None


def test_history_is_in_the_order_it_was_written_whatever_the_hosts_clocks_said(db):
    """A worker whose clock runs behind the web server's stamps `routing`
    before the `pending` it follows."""
    now = timezone.now()
    order = Order.objects.create(amount=Decimal("0.05"), token_in="SOL", token_out="USDC", status="routing")
    OrderEvent.objects.create(order=order, status="pending", attempt=1, at=now)
    OrderEvent.objects.create(order=order, status="routing", attempt=1, at=now - timedelta(milliseconds=3))

    _, events = Order.with_history(order.pk)

    assert [event.status for event in events] == ["pending", "routing"]
    assert [event.status for event in order.events.all()] == ["pending", "routing"]
