"""Limit and sniper orders on the dashboard and the order page: placed
through the form, waiting with their trigger, cancelled, and a sniper order
filled when an operator launches its token from the admin."""

import re
from datetime import UTC, datetime

from django.test import Client
from playwright.sync_api import expect

from orders.api.auth import NOT_THE_OWNER
from orders.models import ApiKey, Order, OrderStatus
from tests.browser.conftest import log_in
from tests.browser.feed import feed_status, send_to_the_feed

# Far above the seeded SOL/USDC price (about 150): the order stays armed.
FAR_LIMIT = "10000"
TOO_LATE = "The order is cancelled: only pending or waiting orders can be cancelled."


def live_dashboard(page, engine) -> None:
    page.goto(engine.url)
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    page.evaluate("window.__sameDocument = true")


def assert_same_document(page) -> None:
    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"


def submit(page) -> str:
    with page.expect_response(re.compile(r"/api/orders/execute$")) as placed:
        page.click("#submit")
    assert placed.value.status == 202, placed.value.text()
    return placed.value.json()["orderId"]


def place_far_limit(engine, **headers) -> str:
    body = {"type": "limit", "amount": "1", "tokenIn": "SOL", "tokenOut": "USDC", "limitPrice": FAR_LIMIT}
    order_id = engine.place(body, **headers)["orderId"]
    assert engine.order(order_id)["status"] == "waiting"
    return order_id


def test_a_limit_order_placed_through_the_form_waits_with_its_trigger_and_is_cancelled(engine, page):
    live_dashboard(page, engine)
    page.check("#type-limit")
    expect(page.locator("#submit")).to_have_accessible_name("Place limit order")
    expect(page.locator("#limitPrice")).to_be_visible()
    expect(page.locator("#expiresIn")).to_be_visible()
    expect(page.locator("#maxPrice")).to_be_hidden()
    expect(page.locator("#limit-unit")).to_have_text("USDC per SOL")
    page.select_option("#tokenOut", "USDT")
    expect(page.locator("#limit-unit")).to_have_text("USDT per SOL")
    page.select_option("#tokenOut", "USDC")

    page.fill("#amount", "2")
    expect(page.locator("#limit-now")).to_contain_text(
        re.compile(r"Now 1\d\d\.\d+ USDC per SOL for this amount")
    )
    page.fill("#limitPrice", FAR_LIMIT)
    expect(page.locator("#estimate")).to_have_text("≥ 20,000")
    page.select_option("#expiresIn", "600")
    order_id = submit(page)

    row = page.locator(f'tr[data-order-id="{order_id}"]')
    expect(row.locator(".badge")).to_have_text("waiting")
    expect(row.locator(".type-tag")).to_have_text("limit")
    expect(row.locator(".steps li.armed")).to_have_count(1)
    expect(row.locator(".trigger-text")).to_have_text("Limit 10,000 USDC per SOL")
    expect(row.locator(".distance")).to_have_text(
        re.compile(r"^current best 1\d\d\.\d+, 98\.\d % below the limit$")
    )
    order = engine.order(order_id)
    assert (order["type"], order["limitPrice"], order["amount"]) == ("limit", "10000", "2")
    assert order["expiresAt"] and order["status"] == "waiting"

    with page.expect_response(re.compile(rf"/api/orders/{order_id}/cancel$")) as cancelled:
        row.get_by_role("button", name="Cancel").click()
    assert cancelled.value.status == 200

    expect(row.locator(".badge")).to_have_text("cancelled")
    expect(row.locator(".steps li.cancelled")).to_have_count(5)
    expect(row.get_by_role("button", name="Cancel")).to_have_count(0)
    assert engine.order(order_id)["status"] == "cancelled"
    assert_same_document(page)


def test_cancelling_too_late_shows_why_until_the_order_moves_on(engine, page, console):
    console.allow_http(409)
    order_id = place_far_limit(engine)
    live_dashboard(page, engine)
    row = page.locator(f'tr[data-order-id="{order_id}"]')
    expect(row.locator(".badge")).to_have_text("waiting")
    # Someone else cancels it and this page misses the news: written without
    # the service (so without a broadcast) on purpose.
    Order.objects.filter(pk=order_id).update(status=OrderStatus.CANCELLED)

    row.get_by_role("button", name="Cancel").click()

    expect(row.locator(".cancel-error")).to_have_text(TOO_LATE)

    # The feed then brings the status the page missed: the sentence goes.
    send_to_the_feed([feed_status(order_id, "cancelled", datetime.now(UTC), orderType="limit")])
    expect(row.locator(".badge")).to_have_text("cancelled")
    expect(row.locator(".cancel-error")).to_have_count(0)


def test_an_order_another_trader_placed_offers_no_cancel_once_refused(engine, page, console):
    console.allow_http(403)
    api_key = ApiKey(name="another desk").issue()
    order_id = place_far_limit(engine, Authorization=f"Bearer {api_key}")

    # The order page knows who is looking: no button for a stranger.
    page.goto(f"{engine.url}/orders/{order_id}")
    expect(page.locator("#order-status")).to_have_text("waiting")
    expect(page.locator("#cancel")).to_have_count(0)

    # The dashboard's live feed does not say whose an order is: the engine's
    # refusal shows, and the button goes.
    live_dashboard(page, engine)
    row = page.locator(f'tr[data-order-id="{order_id}"]')
    row.get_by_role("button", name="Cancel").click()
    expect(row.locator(".cancel-error")).to_have_text(NOT_THE_OWNER)
    expect(row.get_by_role("button", name="Cancel")).to_have_count(0)
    assert engine.order(order_id)["status"] == "waiting"


def test_with_keys_required_a_visitor_who_is_not_logged_in_gets_no_cancel_buttons(engines, market, page):
    engine = engines("keys-required", API_KEYS_REQUIRED="true")
    api_key = ApiKey(name="a desk").issue()
    order_id = place_far_limit(engine, Authorization=f"Bearer {api_key}")

    live_dashboard(page, engine)  # the rows drawn again from the list it reads once live
    row = page.locator(f'tr[data-order-id="{order_id}"]')
    expect(row.locator(".badge")).to_have_text("waiting")
    expect(row.get_by_role("button", name="Cancel")).to_have_count(0)


def test_a_sniper_order_fills_when_an_operator_launches_its_token(engine, page, console, operator):
    live_dashboard(page, engine)
    market = page.locator("#market-rows")
    expect(market).not_to_contain_text("NOVA")
    page.check("#type-sniper")
    expect(page.locator("#submit")).to_have_accessible_name("Place sniper order")
    expect(page.locator("#tokenIn")).to_be_hidden()
    expect(page.locator("#tokenOut")).to_be_hidden()
    expect(page.locator("#quote")).to_be_hidden()
    expect(page.locator("#snipeToken option")).to_have_text(["NOVA", "LUMEN"])
    page.select_option("#snipeToken", "NOVA")
    expect(page.locator("#max-unit")).to_have_text("SOL per NOVA")
    page.fill("#amount", "1")
    page.fill("#maxPrice", "0.01")
    expect(page.locator("#estimate")).to_have_text("≥ 100")
    page.fill("#slippage", "5")
    order_id = submit(page)

    row = page.locator(f'tr[data-order-id="{order_id}"]')
    expect(row.locator(".badge")).to_have_text("waiting")
    expect(row.locator(".trigger-text")).to_have_text(
        "Waits for NOVA's first pool · at most 0.01 SOL per NOVA"
    )
    expect(row.locator(".distance")).to_have_text("NOVA is not trading yet")

    # The operator launches NOVA from the admin, in another tab.
    admin = page.context.new_page()
    admin.on("console", console.on_console)
    admin.on("pageerror", console.on_page_error)
    log_in(admin, engine, operator)
    admin.goto(f"{engine.url}/admin/routing/pool/")
    admin.click("#launch-token-link")
    expect(admin.locator("#id_token option")).to_have_text(["NOVA (1 sniper order waiting)", "LUMEN"])
    admin.select_option("#id_token", "NOVA")
    admin.select_option("#id_dex", "raydium")
    admin.fill("#id_sol_liquidity", "500")
    admin.fill("#id_price", "2000")
    admin.click("input[name=launch]")
    expect(admin.locator(".messagelist .success")).to_contain_text("NOVA launched on raydium")
    expect(admin.locator("#result_list")).to_contain_text("SOL/NOVA")
    admin.close()

    expect(row.locator(".badge")).to_have_text("confirmed")
    expect(row.locator(".steps li.done")).to_have_count(5)
    expect(row.locator(".out")).to_contain_text("NOVA")
    expect(market).to_contain_text("SOL/NOVA")
    final = engine.order(order_id)
    assert final["status"] == "confirmed" and final["triggeredAt"]
    assert float(final["amountOut"]) >= 100  # never paid more than 0.01 SOL per NOVA
    assert_same_document(page)


def test_the_order_page_shows_the_trigger_and_cancels_live(engine, page):
    order_id = place_far_limit(engine)
    page.goto(f"{engine.url}/orders/{order_id}")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    page.evaluate("window.__sameDocument = true")

    expect(page.locator("#order-status")).to_have_text("waiting")
    expect(page.locator(".steps-labeled li").first).to_have_text("waiting")
    expect(page.locator(".steps-labeled li.armed")).to_have_count(1)
    trigger = page.locator("#trigger")
    expect(trigger.locator(".trigger-text")).to_have_text("Limit 10,000 USDC per SOL")
    expect(trigger.locator(".distance")).to_contain_text("% below the limit")
    expect(trigger.locator(".expires")).to_contain_text("Expires at")

    page.click("#cancel")

    expect(page.locator("#order-status")).to_have_text("cancelled")
    expect(page.locator(".steps-labeled li.cancelled")).to_have_count(5)
    expect(page.locator(".timeline li .tl-status")).to_have_text(["pending", "waiting", "cancelled"])
    expect(page.locator("#cancel")).to_have_count(0)
    assert_same_document(page)


def test_limit_orders_and_cancelling_work_without_javascript(engine, no_js_page):
    page = no_js_page
    page.goto(engine.url)
    page.check("#type-limit")
    page.fill("#amount", "1")
    page.click("#submit")
    expect(page.locator("#error-limitPrice")).to_contain_text("is required for limit orders")
    expect(page.locator("#type-limit")).to_be_checked()

    page.fill("#limitPrice", FAR_LIMIT)
    page.click("#submit")
    expect(page).to_have_url(re.compile(r"/orders/[0-9a-f-]{36}$"))
    order_id = page.url.rsplit("/", 1)[1]
    expect(page.locator("#order-status")).to_have_text("waiting")
    assert engine.order(order_id)["limitPrice"] == FAR_LIMIT

    # A second copy of the page, left stale, for the too-late case.
    stale = page.context.new_page()
    stale.goto(page.url)
    page.click("#cancel")
    expect(page.locator("#order-status")).to_have_text("cancelled")
    stale.click("#cancel")
    expect(stale.locator("#cancel-error")).to_have_text(TOO_LATE)


def test_a_sniper_order_through_the_plain_form_post(market):
    answer = Client().post(
        "/",
        {"type": "sniper", "amount": "1", "snipeToken": "LUMEN", "maxPrice": "0.5", "expiresIn": "600"},
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    order = Order.objects.get()
    assert (order.type, order.token_in, order.token_out, order.max_price) == ("sniper", "SOL", "LUMEN", 0.5)
    assert round((order.expires_at - order.created_at).total_seconds()) == 600
