"""orders.statements writes a row as Model.save and QuerySet.update would: the
same encodings, timestamps and defaults filled in. On either database."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from orders.models import Order, OrderEvent
from orders.statements import ConditionalUpdate, Insert

FIELDS = {
    "type": "limit",
    "token_in": "SOL",
    "token_out": "USDC",
    "amount": Decimal("1.250000001"),
    "slippage_bps": 75,
    "quotes": [{"dex": "raydium", "amountOut": "187.1"}],
    "limit_price": Decimal("150"),
    "trigger_price": 149.9999998,
    "idempotency_key": "key-1",
    "request_fingerprint": "f" * 64,
}


def stored(instance) -> dict:
    """The row as read back, less what differs between any two rows."""
    row = type(instance).objects.get(pk=instance.pk)
    skip = {"id", "created_at", "updated_at", "idempotency_key", "order_id"}
    return {f.attname: getattr(row, f.attname) for f in row._meta.concrete_fields if f.attname not in skip}


@pytest.mark.django_db
def test_an_order_inserted_is_the_row_save_writes():
    inserted = Order(**FIELDS)
    Insert(Order)([inserted])
    saved = Order.objects.create(**{**FIELDS, "idempotency_key": "key-2"})

    assert stored(inserted) == stored(saved)
    row = Order.objects.get(pk=inserted.pk)
    assert row.created_at == inserted.created_at and row.updated_at == inserted.updated_at
    assert row.created_at is not None and not inserted._state.adding


@pytest.mark.django_db
def test_history_rows_are_inserted_in_one_run_with_ids_from_the_database():
    order = Order.objects.create(amount=Decimal("1"), token_in="SOL", token_out="USDC")
    events = [
        OrderEvent(order=order, status=status, attempt=1, at=order.created_at, data={"n": n})
        for n, status in enumerate(["pending", "routing", "building"])
    ]

    Insert(OrderEvent)(events)

    read = list(order.events.all())
    at = order.created_at
    assert [(e.status, e.data, e.at) for e in read] == [
        ("pending", {"n": 0}, at),
        ("routing", {"n": 1}, at),
        ("building", {"n": 2}, at),
    ]
    assert len({event.pk for event in read}) == 3


@pytest.mark.django_db
def test_a_duplicate_key_is_an_integrity_error():
    Insert(Order)([Order(**FIELDS)])

    with pytest.raises(IntegrityError), transaction.atomic():
        Insert(Order)([Order(**FIELDS)])


@pytest.mark.django_db
def test_a_conditional_update_writes_as_update_does_and_only_while_its_condition_holds():
    claim = ConditionalUpdate(Order, condition=("status", "attempt"))
    claimed = Order.objects.create(**FIELDS)
    updated = Order.objects.create(**{**FIELDS, "idempotency_key": "key-2"})
    values = {
        "status": "building",
        "attempt": 2,
        "updated_at": timezone.now(),
        "dex": "meteora",
        "quotes": [{"dex": "meteora", "amountOut": "187.4"}],
        "expected_amount_out": Decimal("187.4"),
        "settles_at": timezone.now(),
    }

    assert claim(claimed.pk, ("pending", 1), values)
    Order.objects.filter(pk=updated.pk).update(**values)

    assert stored(claimed) == stored(updated)
    assert Order.objects.get(pk=claimed.pk).updated_at == values["updated_at"]
    # Moved already: the condition no longer holds, and nothing is written.
    assert not claim(claimed.pk, ("pending", 1), {"status": "failed"})
    assert Order.objects.get(pk=claimed.pk).status == "building"
