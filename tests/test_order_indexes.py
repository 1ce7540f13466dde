"""Every index an order is in costs each write of it: a page of the index, or
more. The indexes that only waiting orders need hold only waiting orders, and
the unique keys hold only the orders that set them; the engine's lookups use
them, with the status in their SQL where PostgreSQL's prepared statements
would otherwise plan without knowing it."""

import re
from datetime import timedelta
from decimal import Decimal

import psycopg.sql
import pytest
from django.db import connection
from django.utils import timezone

from orders import services, triggers
from orders.models import Order, OrderStatus, OrderType
from routing.tokens import TOKENS
from tests.halves import sqlite_half_only
from tests.test_sqlite_checkpoints import log_pages

pytestmark = pytest.mark.django_db(transaction=True)

HISTORY = 3000


@pytest.fixture
def history():
    """HISTORY confirmed market orders, a failed one and its retry, and limit
    orders waiting on SOL/USDC far above its price: a few among many."""
    Order.objects.bulk_create(
        Order(token_in="SOL", token_out="USDC", amount=1, idempotency_key=f"key-{n}" if n % 10 == 0 else None)
        for n in range(HISTORY)
    )
    Order.objects.update(status=OrderStatus.CONFIRMED, dex="raydium")
    failed = Order.objects.create(token_in="SOL", token_out="USDC", amount=1, status=OrderStatus.FAILED)
    Order.objects.create(token_in="SOL", token_out="USDC", amount=1, retry_of=failed)
    for price in (10_000, 15_000, 20_000):
        Order.objects.create(
            type=OrderType.LIMIT,
            token_in="SOL",
            token_out="USDC",
            amount=1,
            status=OrderStatus.WAITING,
            limit_price=price,
            trigger_price=price,
            expires_at=timezone.now() + timedelta(days=1),
        )
    return failed


def _statements(run) -> list[tuple[str, tuple]]:
    """The SQL and parameters of every statement `run()` sends, apart
    (CaptureQueriesContext gives the SQL with the values filled in, which
    cannot be prepared)."""
    sent = []

    def record(execute, sql, params, many, context):
        sent.append((sql, tuple(params or ())))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        run()
    return sent


def _order_reads(run) -> list[tuple[str, tuple]]:
    table = connection.ops.quote_name(Order._meta.db_table)
    return [(sql, params) for sql, params in _statements(run) if sql.startswith("SELECT") and table in sql]


def _plan(sql: str, params: tuple) -> str:
    """How the database runs the statement. On PostgreSQL, the plan of it
    prepared, as the engine's connections prepare it (config/settings.py),
    for every value of its parameters: a plain EXPLAIN would plan for the
    values given, and find a partial index that a prepared plan cannot use."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            return str(cursor.fetchall())
        numbered = iter(range(1, len(params) + 1))
        prepared = re.sub(r"%s", lambda _: f"${next(numbered)}", sql).replace("%%", "%")
        # Each parameter's type, where the statement alone does not give it
        # (Django's `SELECT %s AS "a"`), and its value: EXECUTE takes literals.
        raw = connection.connection
        literals = [psycopg.sql.Literal(value).as_string(raw) for value in params]
        types = [literal.rsplit("::", 1)[1] if "::" in literal else "unknown" for literal in literals]
        declared, arguments = (f"({', '.join(types)})", f"({', '.join(literals)})") if params else ("", "")
        cursor.execute("SET plan_cache_mode = force_generic_plan")
        cursor.execute(f"PREPARE planned {declared} AS {prepared}")
        try:
            cursor.execute(f"EXPLAIN EXECUTE planned {arguments}")
            return str(cursor.fetchall())
        finally:
            cursor.execute("DEALLOCATE planned")
            cursor.execute("RESET plan_cache_mode")


LOOKUPS = {
    # A pool update's check for the waiting orders its price crossed (market:
    # the seeded pools): whether any wait on the pair, and each way the
    # snipers and the lowest trigger price, which the price has not reached...
    "trigger check": (lambda failed: triggers.check_pairs([("SOL", "USDC")]), "order_limit_trigger"),
    # ... and at a price past the lowest trigger price, the crossed ones.
    "crossed trigger": (
        lambda failed: triggers._trigger_direction(TOKENS["SOL"], TOKENS["USDC"], 16_000),
        "order_limit_trigger",
    ),
    "expiry": (lambda failed: triggers.orders_expire(), "order_expiry"),
    "waiting pairs": (lambda failed: triggers.waiting_pairs(), "order_limit_trigger"),
    "idempotency key": (lambda failed: services.order_for_idempotency_key("key-20"), "order_idempotency_key"),
    "retry": (lambda failed: services.order_retry_failed(order=failed), "order_retried_once"),
}


@pytest.mark.parametrize("lookup", LOOKUPS)
def test_each_lookup_reads_orders_by_its_partial_index(market, history, lookup):
    run, index = LOOKUPS[lookup]
    reads = _order_reads(lambda: run(history))
    assert reads
    for sql, params in reads:
        assert index in _plan(sql, params), sql


def test_the_lookups_find_what_their_index_holds(history):
    untriggered = triggers.untriggered("SOL", "USDC")
    assert sorted(o.limit_price for o in untriggered.filter(trigger_price__lte=16_000.0)) == [10_000, 15_000]
    assert triggers.expired_by(timezone.now() + timedelta(days=2)).count() == 3
    assert Order.objects.get(idempotency_key="key-20").status == OrderStatus.CONFIRMED
    assert Order.objects.filter(retry_of=history).count() == 1
    assert triggers.waiting_pairs() == {("SOL", "USDC")}
    assert triggers.someone_waits_on.exists("USDC", "SOL")


@pytest.mark.parametrize(
    "run",
    [
        lambda: triggers.orders_trigger(token_a="SOL", token_b="USDC"),
        triggers.orders_expire,
        lambda: triggers.someone_waits_on.exists("SOL", "USDC"),
        triggers.waiting_pairs,
    ],
    ids=["trigger check", "expiry", "someone waits on", "waiting pairs"],
)
def test_the_waiting_orders_lookups_carry_their_status_in_their_sql(market, history, run):
    # A prepared statement is planned once for every value of its parameters
    # (config/settings.py); with the status a parameter, that plan could not
    # use an index that holds only waiting orders.
    reads = _order_reads(run)
    assert reads
    for sql, params in reads:
        assert "'waiting'" in sql
        assert "waiting" not in params


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's count of an index's entries")
def test_the_partial_indexes_hold_only_their_orders(history):
    with connection.cursor() as cursor:
        cursor.execute("VACUUM orders_order")  # counts each index's entries
        cursor.execute(
            "SELECT relname, reltuples FROM pg_class WHERE relname = ANY(%s)",
            [["order_limit_trigger", "order_expiry", "order_idempotency_key", "order_retried_once"]],
        )
        entries = dict(cursor.fetchall())
    waiting, keys = 3, HISTORY // 10
    assert entries == {
        "order_limit_trigger": waiting,
        "order_expiry": waiting,
        "order_idempotency_key": keys,
        "order_retried_once": 1,
    }


@sqlite_half_only("SQLite's write-ahead log")
def test_placing_a_market_order_writes_none_of_the_indexes_it_is_not_in(history):
    # A market order is in the table, its primary key, the created_at,
    # status and ready indexes, and its first event with its own: with the
    # database's header, about 9 pages of log a placement. In the waiting
    # orders' indexes and the keys' constraints too, it was 13 to 14.
    placements = 200
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for _ in range(placements):
        services.order_place(amount=Decimal(1), token_in="SOL", token_out="USDC")
    assert log_pages(connection.alias) / placements < 11
