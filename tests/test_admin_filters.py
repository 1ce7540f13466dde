"""The order list's filters cost the same with 10 orders or 300,000: the
venues are known, the pairs orders were placed for are read once a minute,
and the dates are ranges (today, the past 7 days, ...), not a DISTINCT over
the whole table on every page."""

from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders.admin import PAIRS_CACHE_KEY
from orders.models import Order

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_cached_pairs():
    cache.delete(PAIRS_CACHE_KEY)
    yield
    cache.delete(PAIRS_CACHE_KEY)


def pair_reads(admin_client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert admin_client.get("/admin/orders/order/").status_code == 200
    return sum(
        "DISTINCT" in query["sql"] and "token_in" in query["sql"] for query in queries.captured_queries
    )


def test_the_list_reads_the_pairs_once_then_from_the_cache(admin_client):
    Order.objects.create(token_in="SOL", token_out="USDC", amount=Decimal(1))
    Order.objects.create(token_in="USDT", token_out="BONK", amount=Decimal(1), dex="split")

    assert pair_reads(admin_client) == 1
    assert pair_reads(admin_client) == 0

    page = admin_client.get("/admin/orders/order/").content.decode()
    assert "?pair=USDT-BONK" in page and "?dex=split" in page and "?dex=meteora" in page


def test_the_list_reads_no_distinct_values_once_the_pairs_are_cached(admin_client):
    Order.objects.create(token_in="SOL", token_out="USDC", amount=Decimal(1))
    assert admin_client.get("/admin/orders/order/").status_code == 200

    with CaptureQueriesContext(connection) as queries:
        page = admin_client.get("/admin/orders/order/").content.decode()

    assert [query["sql"] for query in queries.captured_queries if "DISTINCT" in query["sql"]] == []
    assert "created_at__gte=" in page  # the date filter's ranges
