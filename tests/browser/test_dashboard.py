"""The trader's dashboard in a real browser: place an order, watch it live."""

import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import Client
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

from orders.models import Order
from tests.browser.feed import feed_status, send_to_the_feed
from tests.halves import sqlite_half_only

pytestmark = sqlite_half_only(
    "the dashboard shows the REST and WebSocket answers that tests/ checks on both databases"
)


def mark_page(page) -> None:
    """Tag the loaded document; if anything reloads the page the tag is gone."""
    page.evaluate("window.__sameDocument = true")


def assert_same_document(page) -> None:
    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"


def place_through_form(page, *, amount: str, token_in: str = "SOL", token_out: str = "USDC") -> str:
    page.select_option("#tokenIn", token_in)
    page.select_option("#tokenOut", token_out)
    page.fill("#amount", amount)
    with page.expect_response(re.compile(r"/api/orders/execute$")) as placed:
        page.click("#submit")
    assert placed.value.status == 202, placed.value.text()
    return placed.value.json()["orderId"]


def test_an_order_placed_through_the_form_reaches_confirmed_without_a_reload(engine, page):
    page.goto(engine.url)
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    mark_page(page)

    page.fill("#amount", "1.5")
    quote = page.locator("#quote")
    expect(quote).to_be_visible()
    expect(quote.locator("tr[data-dex=raydium]")).to_be_visible()
    expect(quote.locator("tr[data-dex=meteora]")).to_be_visible()
    expect(page.locator("#quote-best")).to_contain_text("Best:")
    expect(page.locator("#estimate")).not_to_have_text("—")

    order_id = place_through_form(page, amount="1.5")

    row = page.locator(f'tr[data-order-id="{order_id}"]')
    expect(row.locator(".badge")).to_have_text("confirmed")
    expect(row.locator(".steps li.done")).to_have_count(5)
    expect(row.locator(".out")).to_contain_text("USDC")
    expect(page.locator("#order-rows tr").first).to_have_attribute("data-order-id", order_id)
    assert_same_document(page)


def test_orders_placed_elsewhere_appear_at_the_top_live(engine, page):
    page.goto(engine.url)
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    mark_page(page)

    first = engine.place({"amount": "0.5"})["orderId"]
    second = engine.place({"amount": "0.25", "tokenIn": "USDC", "tokenOut": "USDT"})["orderId"]

    rows = page.locator("#order-rows tr")
    expect(page.locator(f'tr[data-order-id="{second}"] .badge')).to_have_text("confirmed")
    expect(page.locator(f'tr[data-order-id="{first}"] .badge')).to_have_text("confirmed")
    expect(rows.nth(0)).to_have_attribute("data-order-id", second)
    expect(rows.nth(1)).to_have_attribute("data-order-id", first)
    assert_same_document(page)


def test_an_order_whose_first_status_comes_late_takes_its_place_by_age(engine, page):
    """Each web process publishes its own placements, so the feed can bring
    an order's `pending` after a younger order's: the row still goes where
    its creation time puts it, not on top."""
    page.goto(engine.url)
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    younger = engine.place({"amount": "0.5"})
    expect(page.locator(f'tr[data-order-id="{younger["orderId"]}"] .badge')).to_have_text("confirmed")
    created = datetime.fromisoformat(engine.order(younger["orderId"])["createdAt"].replace("Z", "+00:00"))
    older = str(uuid.uuid4())

    send_to_the_feed([feed_status(older, "pending", created - timedelta(seconds=1))])

    rows = page.locator("#order-rows tr")
    expect(page.locator(f'tr[data-order-id="{older}"]')).to_be_visible()
    expect(rows.nth(0)).to_have_attribute("data-order-id", younger["orderId"])
    expect(rows.nth(1)).to_have_attribute("data-order-id", older)


def test_a_status_of_an_order_that_fell_off_the_table_reads_no_order_list(engine, page):
    """The table shows the 50 newest orders, so under load an order falls
    off it before it ends. Its later statuses are for no row: the dashboard
    must not read the order list again for them, as it does for an order
    whose start it missed."""
    page.goto(engine.url)
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    now = datetime.now(UTC)
    newest = [str(uuid.uuid4()) for _ in range(51)]
    placed = [
        feed_status(order_id, "pending", now + timedelta(milliseconds=i)) for i, order_id in enumerate(newest)
    ]
    send_to_the_feed(placed)
    expect(page.locator(f'tr[data-order-id="{newest[-1]}"]')).to_be_visible()
    expect(page.locator(f'tr[data-order-id="{newest[0]}"]')).to_have_count(0)
    order_list = re.compile(r"/api/orders\?limit=")

    send_to_the_feed([feed_status(newest[0], "routing", now + timedelta(seconds=1))])

    # The read would follow within 300 ms of the status.
    with pytest.raises(PlaywrightTimeoutError), page.expect_request(order_list, timeout=1500):
        pass
    # While a status of an order it never saw start does make it read the list.
    with page.expect_request(order_list, timeout=5000):
        send_to_the_feed([feed_status(str(uuid.uuid4()), "routing", now + timedelta(seconds=1))])


def test_statuses_of_an_order_older_than_the_table_read_the_order_list_once(engine, page):
    """A limit order placed long ago that fires sends statuses for an order
    the table never listed: one read of the list shows it is not among the
    newest, and its later statuses read nothing."""
    page.goto(engine.url)
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    shown = engine.place({"amount": "0.5"})["orderId"]
    expect(page.locator(f'tr[data-order-id="{shown}"] .badge')).to_have_text("confirmed")
    order_list = re.compile(r"/api/orders\?limit=")
    old, now = str(uuid.uuid4()), datetime.now(UTC)
    page.evaluate("document.querySelector('#order-rows tr').__drawn = true")

    with page.expect_response(order_list, timeout=5000):
        send_to_the_feed([feed_status(old, "routing", now)])
    # The list it read is drawn: the rows are new elements.
    page.wait_for_function("() => !document.querySelector('#order-rows tr').__drawn")
    send_to_the_feed([feed_status(old, "building", now), feed_status(old, "confirmed", now)])

    with pytest.raises(PlaywrightTimeoutError), page.expect_request(order_list, timeout=1500):
        pass
    expect(page.locator(f'tr[data-order-id="{old}"]')).to_have_count(0)


def test_the_table_drawn_anew_keeps_the_keyboard_on_the_same_cancel_button(engine, page):
    waiting = engine.place({"type": "limit", "amount": "1", "limitPrice": "10000"})["orderId"]
    page.goto(engine.url)
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    cancel = page.locator(f'tr[data-order-id="{waiting}"] button.cancel')
    cancel.focus()
    page.evaluate("document.querySelector('#order-rows tr').__drawn = true")

    # An order older than the table starts: the list is read, and drawn anew.
    send_to_the_feed([feed_status(str(uuid.uuid4()), "routing", datetime.now(UTC))])
    page.wait_for_function("() => !document.querySelector('#order-rows tr').__drawn")

    expect(cancel).to_be_focused()


def test_a_backlog_of_older_orders_starting_reads_the_order_list_seldom(engine, page):
    """Orders placed before the page opened start one after another (a
    backlog draining): none is among the newest, and each used to read the
    list again, three times a second for as long as the backlog lasted."""
    page.goto(engine.url)
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    reads = []
    page.on("request", lambda request: "/api/orders?limit=" in request.url and reads.append(request.url))
    now, started = datetime.now(UTC), time.monotonic()

    for step in range(12):
        send_to_the_feed([feed_status(str(uuid.uuid4()), "routing", now + timedelta(milliseconds=step))])
        page.wait_for_timeout(200)  # the pace of the backlog, not a wait for the page
    page.wait_for_timeout(500)

    # One read soon after the first; then one every 3 s at most, however slow this machine.
    elapsed = time.monotonic() - started
    assert 1 <= len(reads) <= 1 + int(elapsed / 3), f"{len(reads)} reads of the order list in {elapsed:.1f} s"


def test_back_from_another_page_the_dashboard_is_live_again(engine, page):
    """The browser may keep the page whole while it is away (its back/forward
    cache); the socket closed on the way out, so it must open again."""
    page.goto(engine.url)
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    mark_page(page)
    page.goto(f"{engine.url}/api/health")
    page.go_back(wait_until="commit")  # a page restored whole fires no load event
    # Chromium keeps it (a page whose socket stays open could not be kept).
    assert page.evaluate("window.__sameDocument === true"), "the page was loaded anew, not restored"

    placed = engine.place({"amount": "0.5"})["orderId"]

    expect(page.locator(f'tr[data-order-id="{placed}"] .badge')).to_have_text("confirmed")


def test_the_dashboard_says_it_is_behind_until_it_has_caught_up(engine, page, console):
    """On connect the dashboard reads the order list, to catch up on what it
    missed. While that read fails it must not claim to be live: it says it is
    catching up, and tries again until the list comes."""
    console.allow_http(503)
    order_list = re.compile(r"/api/orders\?limit=")
    failed = []

    def unavailable(route):
        failed.append(route.request.url)
        route.fulfill(status=503, content_type="application/json", body='{"error": "unavailable"}')

    page.route(order_list, unavailable)
    page.goto(engine.url)

    conn = page.locator("#conn")
    expect(conn).to_have_attribute("data-state", "retrying")
    expect(conn).to_contain_text("catching up")
    with page.expect_request(order_list):  # it tries again, and is still behind
        pass
    expect(conn).to_have_attribute("data-state", "retrying")
    page.unroute(order_list)

    expect(conn).to_have_attribute("data-state", "live")
    assert failed, "the order list was never asked for"


def test_a_failed_order_turns_red_with_its_reason(engine, page, console):
    # No pool trades USDC/BONK, so routing fails this order for good
    # (no_route) whichever worker runs it; the quote preview says so first.
    console.allow_http(422)
    page.goto(engine.url)
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    mark_page(page)
    page.select_option("#tokenIn", "USDC")
    page.select_option("#tokenOut", "BONK")
    page.fill("#amount", "10")
    expect(page.locator("#quote-error")).to_contain_text("USDC/BONK")

    order_id = place_through_form(page, amount="10", token_in="USDC", token_out="BONK")

    row = page.locator(f'tr[data-order-id="{order_id}"]')
    expect(row.locator(".badge")).to_have_text("failed")
    expect(row).to_have_class(re.compile(r"\bstatus-failed\b"))
    expect(row.locator(".reason")).to_contain_text("USDC/BONK")
    expect(row.locator(".steps li.failed")).not_to_have_count(0)
    assert engine.order(order_id)["errorCode"] == "no_route"
    assert_same_document(page)


def test_a_bad_amount_shows_the_error_next_to_the_amount_field(engine, page, console):
    console.allow_http(400)
    page.goto(engine.url)
    amount_error = (
        page.locator("#amount")
        .locator("xpath=ancestor::div[@class='field']")
        .locator("[data-error-for=amount]")
    )

    # While typing, from the quote endpoint.
    page.fill("#amount", "-3")
    expect(amount_error).to_be_visible()
    expect(amount_error).to_contain_text("greater than 0")
    expect(page.locator("#amount").locator("xpath=..")).to_have_class(re.compile(r"\binvalid\b"))

    # On submit, from the order endpoint; nothing is placed.
    page.fill("#amount", "1.0000000001")
    with page.expect_response(re.compile(r"/api/orders/execute$")) as placed:
        page.click("#submit")
    assert placed.value.status == 400
    expect(amount_error).to_contain_text("more decimals than SOL has")
    expect(page.locator("[data-error-for=non_field_errors]")).to_be_hidden()

    # Fixing the amount clears the error.
    page.fill("#amount", "1")
    expect(amount_error).to_be_hidden()


def test_the_form_works_without_javascript(engine, no_js_page):
    page = no_js_page
    page.goto(engine.url)
    page.fill("#amount", "zero")
    page.click("#submit")
    expect(page.locator("#error-amount")).to_contain_text("must be a decimal number")
    expect(page.locator("#amount")).to_have_value("zero")

    page.fill("#amount", "0.75")
    page.fill("#slippage", "1")
    page.click("#submit")
    expect(page).to_have_url(re.compile(r"/orders/[0-9a-f-]{36}$"))
    order_id = page.url.rsplit("/", 1)[1]
    placed = engine.wait_terminal(order_id)
    assert placed["status"] == "confirmed" and placed["slippageBps"] == 100


def test_with_api_keys_required_an_anonymous_form_post_places_nothing(db, settings):
    # The plain form post must not be a way around the API's key check.
    settings.API_KEYS_REQUIRED = True

    answer = Client().post("/", {"amount": "1", "tokenIn": "SOL", "tokenOut": "USDC", "slippage": "0.5"})

    assert answer.status_code == 403
    assert b"Log in to place orders" in answer.content
    assert not Order.objects.exists()


def test_an_order_the_placement_answer_draws_first_goes_on_top_then_where_the_server_puts_it(engine, page):
    """The feed usually brings an order's `pending` before the POST's answer;
    when it does not, the page draws the order from the answer, and this
    browser's clock (an hour behind the server's here) must not put it at the
    bottom of the table, or off it."""
    placed_before = engine.place({"amount": "0.5"})["orderId"]
    page.clock.set_fixed_time(datetime.now(UTC) - timedelta(hours=1))
    page.goto(engine.url)
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    expect(page.locator(f'tr[data-order-id="{placed_before}"] .badge')).to_have_text("confirmed")
    # An answer for an order the engine never had: no `pending` of the feed comes first.
    drawn_first = str(uuid.uuid4())
    page.route(
        re.compile(r"/api/orders/execute$"),
        lambda route: route.fulfill(status=202, json={"orderId": drawn_first, "status": "pending"}),
    )

    page.fill("#amount", "0.25")
    page.click("#submit")

    rows = page.locator("#order-rows tr")
    expect(rows.nth(0)).to_have_attribute("data-order-id", drawn_first)
    created = datetime.fromisoformat(engine.order(placed_before)["createdAt"].replace("Z", "+00:00"))
    send_to_the_feed([feed_status(drawn_first, "pending", created - timedelta(seconds=1), amount="0.25")])
    expect(rows.nth(0)).to_have_attribute("data-order-id", placed_before)
    expect(rows.nth(1)).to_have_attribute("data-order-id", drawn_first)


def test_a_quote_answered_after_a_refused_placement_leaves_its_errors(engine, page, console):
    console.allow_http(400)
    page.goto(engine.url)
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    page.check("#type-limit")
    held = []
    page.route(re.compile(r"/api/quote\?"), lambda route: held.append(route))

    with page.expect_request(re.compile(r"/api/quote\?")):
        page.fill("#amount", "1")
    with page.expect_response(re.compile(r"/api/orders/execute$")) as placed:
        page.click("#submit")  # no limit price
    assert placed.value.status == 400
    limit_error = page.locator("[data-error-for=limitPrice]")
    expect(limit_error).to_be_visible()

    assert len(held) == 1
    with page.expect_response(re.compile(r"/api/quote\?")):
        held[0].continue_()

    expect(page.locator("#quote-best")).to_contain_text("Best:")
    expect(limit_error).to_be_visible()


@pytest.mark.parametrize("lost_as", ["no answer", "a proxy's 502"])
def test_a_placement_whose_answer_was_lost_is_placed_once_when_sent_again(engine, page, console, lost_as):
    console.allow_lost_requests()
    console.allow_http(502)
    page.goto(engine.url)
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    answers = []

    def lose_the_first_answer(route):
        if not answers:
            answers.append(route.fetch())  # the engine places the order...
            if lost_as == "no answer":
                route.abort()  # ...and its answer never reaches the browser
            else:
                route.fulfill(status=502, content_type="text/html", body="<h1>Bad gateway</h1>")
        else:
            route.continue_()

    page.route(re.compile(r"/api/orders/execute$"), lose_the_first_answer)
    page.fill("#amount", "0.375")
    page.click("#submit")
    expect(page.locator("[data-error-for=non_field_errors]")).to_contain_text("may or may not be placed")

    with page.expect_response(re.compile(r"/api/orders/execute$")) as again:
        page.click("#submit")

    assert again.value.status == 202
    assert again.value.json()["orderId"] == answers[0].json()["orderId"]
    assert Order.objects.filter(amount=Decimal("0.375")).count() == 1
    expect(page.locator("[data-error-for=non_field_errors]")).to_be_hidden()


def test_a_live_amount_keeps_every_digit_the_server_sent(engine, page):
    """A BONK fill has more digits than a JavaScript number keeps."""
    page.goto(engine.url)
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    order_id, now = str(uuid.uuid4()), datetime.now(UTC)
    fill = {"tokenIn": "SOL", "tokenOut": "BONK", "amount": "10000"}

    send_to_the_feed(
        [
            feed_status(order_id, "pending", now, **fill),
            feed_status(order_id, "confirmed", now, amountOut="76200000000.12345", dex="raydium", **fill),
        ]
    )

    expect(page.locator(f'tr[data-order-id="{order_id}"] .out')).to_contain_text("76,200,000,000.12345")
