"""Every index an order is in costs each write of it: a page of the index, or
more. The indexes that only waiting orders need hold only waiting orders, and
the unique keys hold only the orders that set them; the queries that look
them up use them, with the status in their SQL where PostgreSQL's prepared
statements would otherwise plan without knowing it."""

import os
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from orders import services, triggers
from orders.models import Order, OrderStatus, OrderType

pytestmark = pytest.mark.django_db(transaction=True)

HISTORY = 3000


@pytest.fixture
def history():
    """HISTORY confirmed market orders, a retry of one of them, and limit
    orders waiting on SOL/USDC: the waiting are a few among many."""
    Order.objects.bulk_create(
        Order(token_in="SOL", token_out="USDC", amount=1, idempotency_key=f"key-{n}" if n % 10 == 0 else None)
        for n in range(HISTORY)
    )
    Order.objects.update(status=OrderStatus.CONFIRMED, dex="raydium")
    first = Order.objects.order_by("created_at").first()
    Order.objects.create(token_in="SOL", token_out="USDC", amount=1, retry_of=first)
    for price in (100, 150, 200):
        Order.objects.create(
            type=OrderType.LIMIT,
            token_in="SOL",
            token_out="USDC",
            amount=1,
            status=OrderStatus.WAITING,
            limit_price=price,
            trigger_price=price,
            expires_at=timezone.now(),
        )
    return first


@pytest.mark.parametrize(
    "query, index",
    [
        (
            lambda first: triggers.untriggered("SOL", "USDC").filter(trigger_price__lte=160.0),
            "order_limit_trigger",
        ),
        (lambda first: triggers.expired_by(timezone.now()), "order_expiry"),
        (lambda first: Order.objects.filter(idempotency_key="key-20"), "order_idempotency_key"),
        (lambda first: Order.objects.filter(retry_of=first), "order_retried_once"),
    ],
    ids=["trigger candidates", "expired", "idempotency key", "retry"],
)
def test_the_lookups_use_their_partial_index(history, query, index):
    assert index in query(history).explain()


def test_the_lookups_find_what_their_index_holds(history):
    assert sorted(
        o.limit_price for o in triggers.untriggered("SOL", "USDC").filter(trigger_price__lte=160.0)
    ) == [
        100,
        150,
    ]
    assert triggers.expired_by(timezone.now()).count() == 3
    assert Order.objects.get(idempotency_key="key-20").status == OrderStatus.CONFIRMED
    assert Order.objects.filter(retry_of=history).count() == 1
    assert triggers.waiting_pairs() == {("SOL", "USDC")}
    assert triggers.someone_waits_on.exists("USDC", "SOL")


def _statements(run) -> list[tuple[str, tuple]]:
    """The SQL and parameters of every statement `run()` sends."""
    sent = []

    def record(execute, sql, params, many, context):
        sent.append((sql, tuple(params or ())))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        run()
    return sent


@pytest.mark.parametrize(
    "run",
    [
        lambda: list(triggers.untriggered("SOL", "USDC").filter(trigger_price__lte=160.0)),
        lambda: list(triggers.expired_by(timezone.now())),
        lambda: triggers.someone_waits_on.exists("SOL", "USDC"),
        triggers.waiting_pairs,
    ],
    ids=["trigger candidates", "expired", "someone waits on", "waiting pairs"],
)
def test_the_waiting_orders_queries_carry_their_status_in_their_sql(history, run):
    # A prepared statement is planned once for every value of its parameters
    # (config/settings.py); with the status a parameter, that plan could not
    # use an index that holds only waiting orders.
    [(sql, params)] = _statements(run)
    assert "'waiting'" in sql
    assert "waiting" not in params


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's write-ahead log")
def test_placing_a_market_order_writes_none_of_the_indexes_it_is_not_in(history):
    # A market order is in the table, its primary key, the created_at,
    # status and ready indexes, and its first event with its own: with the
    # database's header, about 9 pages of log a placement. In the waiting
    # orders' indexes and the keys' constraints too, it was 13 to 14.
    wal = connection.settings_dict["NAME"] + "-wal"
    placements = 200
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for _ in range(placements):
        services.order_place(amount=Decimal(1), token_in="SOL", token_out="USDC")
    pages = (os.path.getsize(wal) - 32) // (
        24 + connection.cursor().execute("PRAGMA page_size").fetchone()[0]
    )
    assert pages / placements < 11
