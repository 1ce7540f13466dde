"""An operator finds an order in the admin by what the list shows of it."""

import re
import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders.models import Order


def listed(admin_client, term: str) -> list[str]:
    page = admin_client.get("/admin/orders/order/", {"q": term})
    assert page.status_code == 200
    return re.findall(r'<th class="field-short_id"><a [^>]*>([0-9a-f]{8})</a></th>', page.content.decode())


@pytest.fixture
def orders(db):
    ids = ["5f0c1a2b-0000-4000-8000-000000000001", "5f0c9999-0000-4000-8000-000000000002"]
    return [
        Order.objects.create(
            id=uuid.UUID(order_id), token_in="SOL", token_out="USDC", amount=Decimal(1), tx_hash=f"h{n}"
        )
        for n, order_id in enumerate(ids)
    ]


def test_the_first_8_characters_of_an_id_as_the_list_shows_them(admin_client, orders):
    assert listed(admin_client, "5f0c1a2b") == ["5f0c1a2b"]
    assert sorted(listed(admin_client, " 5F0C ")) == ["5f0c1a2b", "5f0c9999"]


def test_a_longer_prefix_with_or_without_its_dashes(admin_client, orders):
    for term in ("5f0c1a2b-0000", "5f0c1a2b0000", "5f0c99990000400", "5f0c9999-0000-4000-8"):
        assert listed(admin_client, term) == [term[:8]], term


def test_a_whole_id_or_a_transaction_hash(admin_client, orders):
    assert listed(admin_client, str(orders[1].id)) == ["5f0c9999"]
    assert listed(admin_client, "h0") == ["5f0c1a2b"]
    assert listed(admin_client, "nothing-like-it") == []


def test_an_id_prefix_is_looked_up_as_a_range_of_the_primary_key(admin_client, orders):
    # LIKE on the id's text reads every row (PostgreSQL casts the column).
    with CaptureQueriesContext(connection) as captured:
        assert listed(admin_client, "5f0c1a2b") == ["5f0c1a2b"]

    searches = [
        query["sql"] for query in captured if '"orders_order"' in query["sql"] and "WHERE" in query["sql"]
    ]
    assert searches and not any("LIKE" in sql for sql in searches), searches
