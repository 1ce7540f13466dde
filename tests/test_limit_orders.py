"""Limit orders wait for the market, fill no worse than their limit, expire,
and lose the race to a cancel cleanly."""

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.utils import timezone

import routing.mock
from orders import jobs, services, triggers
from orders.models import Order, OrderStatus
from routing.errors import DexUnavailable


def best_price(engine, amount: str, token_in="SOL", token_out="USDC") -> Decimal:
    status, quote = engine.request(
        "GET", f"/api/quote?tokenIn={token_in}&tokenOut={token_out}&amount={amount}"
    )
    assert status == 200, quote
    return Decimal(quote["best"]["amountOut"]) / Decimal(amount)


def push_sol_price_up(engine, usdc: str = "400000") -> dict:
    placed = engine.place({"amount": usdc, "tokenIn": "USDC", "tokenOut": "SOL", "slippageBps": 500})
    return engine.wait_terminal(placed["orderId"])


def at(order: dict, status: str) -> datetime:
    return next(datetime.fromisoformat(e["at"]) for e in order["history"] if e["status"] == status)


def test_a_limit_order_waits_then_fills_on_the_first_crossing_never_below_its_limit(engine):
    limit = (best_price(engine, "10") * Decimal("1.005")).quantize(Decimal("0.0001"))
    placed = engine.place(
        {"type": "limit", "amount": "10", "limitPrice": str(limit), "expiresInSeconds": 120}
    )

    waiting = engine.order(placed["orderId"])
    assert waiting["status"] == "waiting" and waiting["limitPrice"] == str(limit)
    assert [entry["status"] for entry in waiting["history"]] == ["pending", "waiting"]

    crossing = push_sol_price_up(engine)
    assert crossing["status"] == "confirmed"
    order = engine.wait_terminal(placed["orderId"], timeout=30)

    assert order["status"] == "confirmed", order["error"]
    assert Decimal(order["executedPrice"]) >= limit
    assert Decimal(order["minAmountOut"]) >= Decimal("10") * limit
    assert at(order, "routing") > at(crossing, "confirmed")
    assert [entry["status"] for entry in order["history"]] == [
        "pending",
        "waiting",
        "routing",
        "building",
        "submitted",
        "confirmed",
    ]


def test_a_limit_order_away_from_the_market_keeps_waiting(engine):
    price = best_price(engine, "1")
    placed = engine.place({"type": "limit", "amount": "1", "limitPrice": str(price * 2)})
    # Crossed by the push: once it has fired, the check that followed the
    # push has looked at the far order too.
    near = engine.place(
        {
            "type": "limit",
            "amount": "1",
            "limitPrice": str((price * Decimal("1.005")).quantize(Decimal("0.0001"))),
        }
    )

    push_sol_price_up(engine)
    assert engine.wait_terminal(near["orderId"])["status"] == "confirmed"

    assert engine.order(placed["orderId"])["status"] == "waiting"
    assert engine.order(placed["orderId"])["triggeredAt"] is None


def test_a_limit_order_that_never_triggers_expires(engine):
    placed = engine.place({"type": "limit", "amount": "1", "limitPrice": "1000", "expiresInSeconds": 1})

    order = engine.wait_terminal(placed["orderId"], timeout=15)

    assert order["status"] == "failed" and order["errorCode"] == "expired"
    assert "expired" in order["error"]


def test_cancel_moves_a_waiting_order_to_cancelled_and_refuses_later_statuses(engine):
    placed = engine.place({"type": "limit", "amount": "1", "limitPrice": "1000"})

    status, cancelled = engine.request("POST", f"/api/orders/{placed['orderId']}/cancel")
    assert status == 200 and cancelled["status"] == "cancelled"
    status, again = engine.request("POST", f"/api/orders/{placed['orderId']}/cancel")
    assert status == 409 and "cancelled" in again["error"]

    market = engine.place({"amount": "0.1"})
    engine.wait_terminal(market["orderId"])
    status, late = engine.request("POST", f"/api/orders/{market['orderId']}/cancel")
    assert status == 409 and "confirmed" in late["error"]
    status, _ = engine.request("POST", "/api/orders/00000000-0000-0000-0000-000000000000/cancel")
    assert status == 404


def test_a_cancel_racing_a_trigger_has_exactly_one_winner(engine):
    limit = (best_price(engine, "5") * Decimal("1.004")).quantize(Decimal("0.0001"))
    orders = [
        engine.place({"type": "limit", "amount": "5", "limitPrice": str(limit)})["orderId"] for _ in range(4)
    ]

    with ThreadPoolExecutor(max_workers=5) as pool:
        crossing = pool.submit(push_sol_price_up, engine)
        cancels = list(pool.map(lambda oid: engine.request("POST", f"/api/orders/{oid}/cancel"), orders))
        crossing.result()

    for order_id, (status, _) in zip(orders, cancels, strict=True):
        order = engine.wait_terminal(order_id, timeout=30)
        statuses = [entry["status"] for entry in order["history"]]
        if status == 200:
            assert order["status"] == "cancelled" and "routing" not in statuses
        else:
            assert status == 409 and order["status"] == "confirmed" and "cancelled" not in statuses
            assert Decimal(order["executedPrice"]) >= limit


def test_limit_order_fields_are_validated(engine):
    cases = [
        ({"type": "limit", "amount": "1"}, "limitPrice"),
        ({"type": "limit", "amount": "1", "limitPrice": "-3"}, "limitPrice"),
        ({"type": "limit", "amount": "1", "limitPrice": "150", "expiresInSeconds": 0}, "expiresInSeconds"),
        ({"type": "limit", "amount": "1", "limitPrice": "150", "maxPrice": "1"}, "maxPrice"),
        ({"type": "market", "amount": "1", "limitPrice": "150"}, "limitPrice"),
    ]
    for body, field in cases:
        status, answer = engine.request("POST", "/api/orders/execute", body)
        assert status == 400 and field in answer["fields"], (body, answer)


@pytest.mark.django_db(transaction=True)
def test_a_triggered_order_that_finds_no_slot_before_it_expires_says_so(no_engine):
    now = timezone.now()
    order = Order.objects.create(
        type="limit",
        token_in="SOL",
        token_out="USDC",
        amount=Decimal(1),
        limit_price=Decimal(100),
        status=OrderStatus.WAITING,
        expires_at=now - timedelta(seconds=1),
        triggered_at=now - timedelta(seconds=30),
    )

    assert triggers.orders_expire() == 1

    order.refresh_from_db()
    assert (order.status, order.error_code) == (OrderStatus.FAILED, "expired")
    assert "its trigger fired at" in order.error and "never reached" not in order.error


def armed_limit(now, **fields) -> Order:
    """A limit order far below the market's price (about 150 USDC per SOL): reached."""
    fields = {"limit_price": Decimal(100), "trigger_price": 99.9, **fields}
    return Order.objects.create(
        type="limit",
        token_in="SOL",
        token_out="USDC",
        amount=Decimal(1),
        status=OrderStatus.WAITING,
        **fields,
    )


def test_a_triggered_order_whose_time_ran_out_is_not_admitted_but_expires(market, no_engine):
    # The clock fails expired orders every 2 s; a slot freed in between must
    # not start this one.
    now = timezone.now()
    fired = now - timedelta(seconds=5)
    late = armed_limit(now, expires_at=now - timedelta(milliseconds=500), triggered_at=fired)
    on_time = armed_limit(now, expires_at=now + timedelta(hours=1), triggered_at=fired)

    admitted = services.orders_admit(job=False)

    assert [order.pk for order in admitted.orders] == [on_time.pk]
    late.refresh_from_db()
    assert (late.status, late.error_code) == (OrderStatus.FAILED, "expired")
    assert "its trigger fired at" in late.error


def test_an_order_whose_time_is_up_does_not_trigger(market, no_engine):
    now = timezone.now()
    late = armed_limit(now, expires_at=now - timedelta(milliseconds=500))

    triggers.orders_trigger(token_a="SOL", token_b="USDC")

    late.refresh_from_db()
    assert late.triggered_at is None

    assert triggers.orders_expire() == 1
    late.refresh_from_db()
    when = f"{late.expires_at:%Y-%m-%d %H:%M:%S} UTC"
    assert late.error == f"The order expired at {when}: the price never reached 100."


def test_a_triggered_order_routed_while_a_venue_is_down_tries_again(market, no_engine, settings):
    """Meteora's price (about 150.46 USDC per SOL) reached the limit of 150.3;
    Raydium alone (about 149.62) does not. With Meteora down when the order
    routes, the market has not moved away from it: another attempt, not
    slippage_exceeded."""
    settings.MOCK_QUOTE_LATENCY_MS = (0, 0)
    settings.MOCK_SWAP_LATENCY_MS = (0, 0)
    now = timezone.now()
    order = armed_limit(
        now,
        limit_price=Decimal("150.3"),
        trigger_price=150.2,
        expires_at=now + timedelta(hours=1),
        triggered_at=now,
    )

    def meteora_down(dex: str, what: str, *, wait: bool = True) -> None:
        if dex == "meteora":
            raise DexUnavailable(f"{dex} did not answer the {what} request (simulated outage)")

    with mock.patch.object(routing.mock, "network_call", meteora_down):
        jobs.admit_orders(linger=0)

    order.refresh_from_db()
    assert (order.status, order.error_code, order.attempt) == (OrderStatus.ROUTING, "", 2)
    retried = order.events.get(status=OrderStatus.ROUTING, attempt=2)
    assert "meteora did not answer" in retried.data["retryReason"]


def test_an_order_re_armed_as_the_price_crosses_again_fires_again(market, no_engine, monkeypatch):
    """Admission read a price below the limit; a pool move that crossed it
    again committed before the re-arm, and its check skipped the order, still
    triggered then."""
    now = timezone.now()
    order = armed_limit(now, expires_at=now + timedelta(hours=1), triggered_at=now)
    reads = iter([False])  # the admission's read; every later one is the market's
    real = triggers.limit_reached
    monkeypatch.setattr(triggers, "limit_reached", lambda order: next(reads, real(order)))

    assert services.orders_admit(job=False).orders == []

    order.refresh_from_db()
    assert order.status == OrderStatus.WAITING and order.triggered_at is not None
