"""`manage.py place_orders` places orders on a running engine and watches them end."""

import io
import re

import pytest
from django.core.management import CommandError, call_command

from orders.models import ApiKey, Order


def test_it_places_three_orders_and_summarises_them(engine):
    out, err = io.StringIO(), io.StringIO()

    call_command(
        "place_orders",
        "-n",
        "3",
        "--amount",
        "0.5",
        "--pair",
        "SOL/USDC",
        "--url",
        engine.url,
        stdout=out,
        stderr=err,
    )

    summary = out.getvalue()
    rows = [line for line in summary.splitlines() if re.match(r"\s+\d+\s+[0-9a-f-]{36}\s", line)]
    assert len(rows) == 3
    assert all(" confirmed " in row and re.search(r"\d+\.\d\ds", row) for row in rows)
    assert "3 orders in" in summary and "3 confirmed" in summary
    assert "latency: min" in summary
    assert "3/3 (3 confirmed, 0 not)" in err.getvalue()
    for order_id in (row.split()[1] for row in rows):
        assert engine.order(order_id)["status"] == "confirmed"


def test_it_places_orders_with_an_api_key_where_the_engine_requires_one(engines, market):
    engine = engines("keys-required", API_KEYS_REQUIRED="true")
    api_key = ApiKey(name="desk").issue()
    out, err = io.StringIO(), io.StringIO()

    call_command("place_orders", "-n", "2", "--url", engine.url, "--api-key", api_key, stdout=out, stderr=err)

    assert "2 confirmed" in out.getvalue()
    placed = Order.objects.all()
    assert placed.count() == 2 and {order.api_key.name for order in placed} == {"desk"}


def test_without_a_key_it_says_the_engine_refused_each_order(engines, market, monkeypatch):
    monkeypatch.delenv("ORDER_ENGINE_API_KEY", raising=False)
    engine = engines("keys-required", API_KEYS_REQUIRED="true")
    out = io.StringIO()

    with pytest.raises(CommandError, match="not placed"):
        call_command("place_orders", "-n", "1", "--url", engine.url, stdout=out, stderr=io.StringIO())

    assert "rejected (401)" in out.getvalue() and "API key" in out.getvalue()
    assert not Order.objects.exists()
