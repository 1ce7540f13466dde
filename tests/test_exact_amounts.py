"""Amounts and prices keep every digit they were given, on either database.

SQLite keeps a decimal column's numbers as 64-bit floats (15 significant
digits); the orders' amount columns are text there (orders.fields)."""

import re
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client

from orders.models import Order
from tests.halves import sqlite_half_only

# 22 digits before the point and 18 after: the columns' whole width.
WIDEST = Decimal("1234567890123456789012.123456789012345678")
AMOUNT_COLUMNS = [
    "amount",
    "expected_amount_out",
    "min_amount_out",
    "amount_out",
    "executed_price",
    "limit_price",
    "max_price",
]


def test_every_amount_column_keeps_every_digit(db):
    values = {name: WIDEST + index for index, name in enumerate(AMOUNT_COLUMNS)}
    placed = Order.objects.create(token_in="SOL", token_out="USDC", **values)

    # The ORM, the hand-written statement of the order page and the sockets'
    # snapshot, and a values() query each read them back whole.
    read = Order.objects.get(pk=placed.pk)
    history_read, _ = Order.with_history(placed.pk)
    row = Order.objects.filter(pk=placed.pk).values(*AMOUNT_COLUMNS).get()
    for name, value in values.items():
        assert getattr(read, name) == value, name
        assert getattr(history_read, name) == value, name
        assert row[name] == value, name


@pytest.fixture
def pools(db):
    """A limit order needs a pool trading its pair."""
    call_command("seed_market", verbosity=0)


def test_an_amount_placed_through_the_api_comes_back_whole(pools):
    client = Client()
    body = {"amount": "123456789.123456789", "type": "limit", "limitPrice": "150.123456789012345678"}
    placed = client.post("/api/orders/execute", body, content_type="application/json")
    assert placed.status_code == 202, placed.content

    order = client.get(f"/api/orders/{placed.json()['orderId']}").json()
    assert order["amount"] == "123456789.123456789"
    assert order["limitPrice"] == "150.123456789012345678"


@pytest.mark.parametrize(
    ("price", "shown"),
    [
        # 33 significant digits: past the 28 that Decimal's default context keeps.
        ("123456789012345.123456789012345678", "123456789012345.123456789012345678"),
        # Trailing zeros past the 18th place are no extra precision.
        ("150.50000000000000000000", "150.5"),
    ],
)
def test_a_limit_price_comes_back_whole(pools, price, shown):
    client = Client()
    body = {"amount": "1", "type": "limit", "limitPrice": price}
    placed = client.post("/api/orders/execute", body, content_type="application/json")
    assert placed.status_code == 202, placed.content

    assert client.get(f"/api/orders/{placed.json()['orderId']}").json()["limitPrice"] == shown


def test_the_admin_sorts_amounts_as_numbers(admin_client):
    # As text, "10" sorts before "9" and "100.5" before both.
    for amount in ["10", "9", "100.5", "0.5"]:
        Order.objects.create(token_in="SOL", token_out="USDC", amount=Decimal(amount))

    page = admin_client.get("/admin/orders/order/", {"o": "4"})  # the amount column, ascending
    assert page.status_code == 200

    shown = re.findall(r'<td class="field-amount_in">([0-9.]+) SOL</td>', page.content.decode())
    assert shown == ["0.5", "9", "10", "100.5"]


@sqlite_half_only("PostgreSQL's numeric columns were exact before and are unchanged")
@pytest.mark.django_db(transaction=True)
def test_amounts_stored_as_numbers_before_read_the_same_after_the_migration():
    before, after = [("orders", "0006_order_owner")], [("orders", "0007_exact_decimals_on_sqlite")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO orders_order (id, type, token_in, token_out, amount, slippage_bps, status, dex,"
                " quotes, route, amount_out, tx_hash, attempt, error, error_code, request_fingerprint,"
                " created_at, updated_at)"
                " VALUES ('0f0e0d0c0b0a09080706050403020100', 'market', 'SOL', 'USDC', 0.0000001, 50,"
                " 'confirmed', 'raydium', '[]', '{}', 187.39, '', 1, '', '', '',"
                " '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            )
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(after)

    order = Order.objects.get()
    assert order.amount == Decimal("0.0000001")
    assert order.amount_out == Decimal("187.39")
    assert order.limit_price is None
