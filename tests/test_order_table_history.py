"""Admission, and the backlog count that guards placements, find the few
orders that are ready in a table of thousands that are done: they read an
index of the ready ones, not the history. On PostgreSQL the history also
leaves an index entry behind for every status an order left, dead until the
table is vacuumed, which the engine's queries must not check against the
table again and again (config/settings.py)."""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from orders import services
from orders.models import Order, OrderStatus

pytestmark = pytest.mark.django_db(transaction=True)

HISTORY = 5000


@pytest.fixture
def history():
    """HISTORY market orders placed and confirmed as the engine does it (a
    pending row, then an update), and not vacuumed since; then one pending
    order and one limit order whose trigger fired."""
    now = timezone.now()
    Order.objects.bulk_create(
        Order(token_in="SOL", token_out="USDC", amount=1, status=OrderStatus.PENDING) for _ in range(HISTORY)
    )
    Order.objects.filter(status=OrderStatus.PENDING).update(status=OrderStatus.CONFIRMED, dex="raydium")
    pending = Order.objects.create(token_in="SOL", token_out="USDC", amount=2)
    triggered = Order.objects.create(
        type="limit", token_in="SOL", token_out="USDC", amount=3, status=OrderStatus.WAITING, triggered_at=now
    )
    Order.objects.create(  # armed, not triggered: not ready
        type="limit", token_in="SOL", token_out="USDC", amount=4, status=OrderStatus.WAITING
    )
    Order.objects.filter(pk=triggered.pk).update(created_at=now - timedelta(seconds=1))
    return [triggered.pk, pending.pk]


def test_admission_finds_the_ready_orders_oldest_first(history):
    assert [order.pk for order in services.orders_ready().order_by("created_at")[:10]] == history
    assert Order.objects.filter(status=OrderStatus.PENDING).count() == 1


def _pages_read(queryset) -> int:
    """The table and index pages PostgreSQL reads to run `queryset` once
    more, after a first run."""
    queryset.explain(analyze=True)
    plan = json.loads(queryset.explain(format="json", analyze=True, buffers=True))[0]["Plan"]
    return plan["Shared Hit Blocks"] + plan["Shared Read Blocks"]


def _table_pages() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_relation_size(%s) / current_setting('block_size')::int", [Order._meta.db_table]
        )
        return cursor.fetchone()[0]


on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL's dead index entries"
)


# The orders found are among the first rows read; what a query reads beyond
# them is the history: the dead entries of its index, marked dead and
# skipped, but still on their pages until a vacuum (a few hundred a page),
# and, for a bitmap scan or a scan of an index on something else, the table.
@on_postgresql
def test_the_admission_query_reads_the_index_not_the_table(history):
    assert _pages_read(services.orders_ready().order_by("created_at")[:10]) < _table_pages() / 4


@on_postgresql
def test_the_backlog_count_reads_the_index_not_the_table(history):
    assert _pages_read(Order.objects.filter(status=OrderStatus.PENDING).values("pk")) < _table_pages() / 4


def test_the_admission_query_carries_its_statuses_in_its_sql():
    # On PostgreSQL a statement run often is prepared and planned once for
    # all the values of its parameters (config/settings.py): the statuses, as
    # parameters, would leave the planner no way to use `order_ready`. With
    # 300,000 orders of history that plan scanned them all, 170 ms a round.
    sql, params = services.orders_ready().order_by("created_at")[:10].query.sql_with_params()
    assert params == ()
    assert "'pending'" in sql and "'waiting'" in sql
