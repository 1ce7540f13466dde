"""One order's page: route, execution and timeline, updated live."""

import re
import time
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone
from playwright.sync_api import expect

from orders import services
from orders.models import Order, OrderStatus
from tests.halves import sqlite_half_only

pytestmark = sqlite_half_only(
    "an order's page shows the REST and WebSocket answers that tests/ checks on both databases"
)


def parked_in_submitted() -> Order:
    """An order in `submitted` with its settlement an hour away: the engine
    leaves it alone, and a test moves it on through the service layer."""
    return Order.objects.create(
        token_in="SOL",
        token_out="USDC",
        amount=Decimal("1"),
        status=OrderStatus.SUBMITTED,
        dex="raydium",
        quotes=[
            {"dex": "raydium", "amountOut": "149.6", "feeBps": 25, "priceImpactBps": 0},
            {"dex": "meteora", "amountOut": "149.1", "feeBps": 10, "priceImpactBps": 0},
        ],
        expected_amount_out=Decimal("149.6"),
        min_amount_out=Decimal("148.852"),
        tx_hash="5" * 87,
        settles_at=timezone.now() + timedelta(hours=1),
    )


def test_the_order_page_shows_both_quotes_the_route_and_the_timeline(engine, page):
    placed = engine.place({"amount": "2", "tokenIn": "SOL", "tokenOut": "USDC", "slippageBps": 75})
    final = engine.wait_terminal(placed["orderId"])
    assert final["status"] == "confirmed"

    page.goto(f"{engine.url}/orders/{placed['orderId']}")

    expect(page.locator("#order-status")).to_have_text("confirmed")
    expect(page.locator(".quote-card")).to_have_count(2)
    expect(page.locator(".quote-card .venue")).to_have_text(["meteora", "raydium"])
    expect(page.locator(".quote-card.chosen")).not_to_have_count(0)
    expect(page.locator(".route-line")).to_contain_text(final["dex"])
    expect(page.locator("#tx-hash")).to_have_text(final["txHash"])
    expect(page.locator("#min-out")).to_contain_text("USDC")
    expect(page.locator("#amount-out")).to_contain_text("USDC")
    expect(page.locator(".timeline li .tl-status")).to_have_text(
        ["pending", "routing", "building", "submitted", "confirmed"]
    )
    expect(page.locator(".timeline li .tl-dur").first).to_have_text(re.compile(r"^\d+(\.\d+)? m?s$"))
    expect(page.locator(".steps-labeled li.done")).to_have_count(5)


def test_the_order_page_follows_the_order_live(engine, page):
    # The service layer's broadcast must reach the open page.
    order = parked_in_submitted()
    page.goto(f"{engine.url}/orders/{order.id}")
    expect(page.locator("#order-status")).to_have_text("submitted")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    page.evaluate("window.__sameDocument = true")

    assert services.order_transition(
        order=order, to=OrderStatus.CONFIRMED, amount_out=Decimal("149.5"), executed_price=Decimal("149.5")
    )

    expect(page.locator("#order-status")).to_have_text("confirmed")
    expect(page.locator("#amount-out")).to_contain_text("149.5 USDC")
    expect(page.locator(".timeline li .tl-status").last).to_have_text("confirmed")
    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"


def test_a_refused_cancel_stays_said_only_until_the_order_moves_on(engine, page, console):
    console.allow_http(409)
    placed = engine.place(
        {"type": "limit", "amount": "1", "tokenIn": "SOL", "tokenOut": "USDC", "limitPrice": "10000"}
    )
    page.goto(f"{engine.url}/orders/{placed['orderId']}")
    expect(page.locator("#order-status")).to_have_text("waiting")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    # Its trigger fired, and this page missed the news: written without a broadcast on purpose,
    # and moved on an hour from now, so that the engine's sweep never takes it for stalled.
    Order.objects.filter(pk=placed["orderId"]).update(
        status=OrderStatus.ROUTING, updated_at=timezone.now() + timedelta(hours=1)
    )

    page.click("#cancel")

    refusal = page.locator("#cancel-error")
    expect(refusal).to_have_text("The order is routing: only pending or waiting orders can be cancelled.")
    expect(page.locator("#order-status")).to_have_text("routing")

    services.order_fail(
        order=Order.objects.get(pk=placed["orderId"]), error="test: no route", code="no_route"
    )

    expect(page.locator("#order-status")).to_have_text("failed")
    expect(refusal).to_be_hidden()


def test_a_final_status_whose_page_fails_to_draw_is_drawn_again(engine, page, console):
    # After the final status no message comes to redraw the page: one draw
    # that failed (a 503, a lost connection) left it on "submitted" for good.
    order = parked_in_submitted()
    page.goto(f"{engine.url}/orders/{order.id}")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    refused = []

    def refuse_the_first_draw(route):
        if refused:
            route.continue_()
            return
        refused.append(route.request.url)
        route.fulfill(status=503, json={"error": "The database is not answering; try again shortly."})

    console.allow_http(503)
    page.route(re.compile(r"fragment=1"), refuse_the_first_draw)
    services.order_fail(order=order, error="test: no route", code="no_route")

    expect(page.locator("#order-status")).to_have_text("failed")
    assert len(refused) == 1


def test_a_waiting_orders_page_keeps_the_focus_on_cancel_as_its_distance_is_redrawn(engine, page):
    placed = engine.place(
        {"type": "limit", "amount": "1", "tokenIn": "SOL", "tokenOut": "USDC", "limitPrice": "10000"}
    )
    # The socket's snapshot is held back until the keyboard is on Cancel:
    # on a busy machine it comes after, and redrew the page whole.
    sockets, held = [], []

    def through_the_engine(socket):
        socket.connect_to_server().on_message(lambda message: held.append(message))
        sockets.append(socket)

    page.route_web_socket(re.compile(r"/ws/orders/"), through_the_engine)
    page.clock.install()
    page.goto(f"{engine.url}/orders/{placed['orderId']}")
    expect(page.locator("#order-status")).to_have_text("waiting")
    page.focus("#cancel")
    deadline = time.monotonic() + 20
    while not held:  # each call lets the socket's events through
        assert time.monotonic() < deadline, "no snapshot within 20 s"
        page.wait_for_timeout(20)  # the driver's clock, not the page's
    sockets[0].send(held[0])
    expect(page.locator("#order-body")).to_have_attribute("data-drawn", "1")
    assert page.evaluate("document.activeElement && document.activeElement.id") == "cancel"

    page.clock.run_for(10_500)  # the 10 s redraw of the distance to the trigger

    expect(page.locator("#order-body")).to_have_attribute("data-drawn", "2")
    expect(page.locator("#distance")).to_be_visible()
    assert page.evaluate("document.activeElement && document.activeElement.id") == "cancel"


def test_a_socket_the_server_drops_as_it_opens_is_asked_again_ever_more_slowly(engine, page):
    # A server that accepts and then fails (its database down: the snapshot
    # cannot be read) was asked again every half second, for as long as it failed.
    placed = engine.place(
        {"type": "limit", "amount": "1", "tokenIn": "SOL", "tokenOut": "USDC", "limitPrice": "10000"}
    )
    opened, failed = [], []

    page.clock.install()
    # Accepted, not passed on to the engine: the page sees each one open.
    page.route_web_socket(re.compile(r"/ws/orders/"), lambda socket: opened.append(socket))
    page.goto(f"{engine.url}/orders/{placed['orderId']}")
    expect(page.locator("#order-status")).to_have_text("waiting")
    page.clock.pause_at(page.evaluate("Date.now()") + 1)

    def fake_ms_until_attempt(count: int) -> int:
        waited = 0
        while len(opened) < count:
            for socket in opened[len(failed) :]:
                socket.close(code=1011)
                failed.append(socket)
            page.clock.run_for(50)  # each call lets the page's socket events through
            waited += 50
            assert waited < 60_000, f"no attempt {count} within a minute"
        return waited

    fake_ms_until_attempt(1)
    gaps = [fake_ms_until_attempt(attempt) for attempt in (2, 3, 4, 5)]

    # 0.5, 1, 2 and 4 s, each within ±25 % (and a step of the clock).
    assert gaps[-1] >= 2_900, gaps
    assert gaps == sorted(gaps), gaps
