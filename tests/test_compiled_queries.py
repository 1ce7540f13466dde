"""config.compiled keeps a query's SQL, never its answer: run again, it sees
the rows as they are now, as the QuerySet would. On either database."""

from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.models import Value
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext

from config.compiled import CompiledQuery
from orders.models import Order, OrderStatus
from routing.models import Pool
from routing.seed import seed_market

pytestmark = pytest.mark.django_db

by_status = CompiledQuery(Order, lambda status: Order.objects.filter(status=status).order_by("created_at"))


def place(status: str = OrderStatus.PENDING) -> Order:
    return Order.objects.create(token_in="SOL", token_out="USDC", amount=Decimal("1.5"), status=status)


def test_rows_count_and_existence_follow_the_rows_as_they_change():
    assert by_status.rows("pending") == []
    assert by_status.count("pending") == 0
    assert not by_status.exists("pending")

    first, second = place(), place()
    place(OrderStatus.CONFIRMED)

    assert by_status.rows("pending") == [first, second]
    assert by_status.count("pending") == 2
    assert by_status.count("confirmed") == 1
    assert by_status.exists("pending")

    Order.objects.filter(pk=first.pk).update(status=OrderStatus.ROUTING)
    assert by_status.rows("pending") == [second]
    assert by_status.count("pending") == 1


def test_rows_are_the_instances_the_queryset_gives():
    place()
    [row] = by_status.rows("pending")
    [expected] = Order.objects.filter(status="pending")
    fields = [field.attname for field in Order._meta.concrete_fields]
    assert [getattr(row, name) for name in fields] == [getattr(expected, name) for name in fields]
    assert isinstance(row.amount, Decimal) and row.amount == Decimal("1.5")


def test_columns_left_out_are_deferred_and_load_when_read():
    seed_market()
    pools = CompiledQuery(Pool, lambda dex: Pool.objects.filter(dex=dex).order_by("id").defer("bins"))
    rows = pools.rows("meteora")
    assert rows and all("bins" in pool.get_deferred_fields() for pool in rows)
    assert rows[0].bins == Pool.objects.get(pk=rows[0].pk).bins


def test_a_query_that_can_match_nothing_asks_nothing():
    nothing = CompiledQuery(Order, lambda: Order.objects.filter(pk__in=[]))
    with CaptureQueriesContext(connection) as queries:
        assert nothing.rows() == []
        assert nothing.count() == 0
        assert not nothing.exists()
    assert len(queries) == 0


def test_the_sql_is_compiled_once_per_arguments():
    built = []
    counted = CompiledQuery(Order, lambda status: built.append(status) or Order.objects.filter(status=status))
    for _ in range(3):
        counted.count("pending")
        counted.count("failed")
    assert built == ["pending", "failed"]


@pytest.mark.django_db(transaction=True)  # outside the test's own transaction
def test_rows_to_lock_are_read_only_inside_a_transaction_where_the_database_locks():
    locked = CompiledQuery(Order, lambda: Order.objects.select_for_update().filter(status="pending"))
    place()
    with transaction.atomic():
        assert len(locked.rows()) == 1
    if connection.features.has_select_for_update:
        with pytest.raises(TransactionManagementError):
            locked.rows()
    else:
        assert len(locked.rows()) == 1  # SQLite locks the whole database instead, as the ORM lets it


def test_rows_of_more_than_one_models_own_columns_are_refused():
    joined = CompiledQuery(Order, lambda: Order.objects.select_related("retry_of"))
    annotated = CompiledQuery(Order, lambda: Order.objects.annotate(one=Value(1)))
    for query in (joined, annotated):
        with pytest.raises(ValueError, match="one model's own columns"):
            query.rows()
