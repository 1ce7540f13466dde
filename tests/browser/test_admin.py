"""The orders admin for a logged-in operator, in a real browser."""

import re

from playwright.sync_api import expect

from orders.models import Order


def expect_rows(page, *order_ids: str) -> None:
    """The change list shows exactly these orders, newest first."""
    expect(page.locator("#result_list tbody .field-short_id")).to_have_text([oid[:8] for oid in order_ids])


def test_the_admin_index_links_the_queue_statistics(engine, admin_page):
    page = admin_page
    page.click("#engine-links >> text=Queue statistics")
    expect(page).to_have_url(re.compile(r"/admin/rq/$"))
    expect(page.locator("body")).to_contain_text("orders")


def test_an_operator_lists_filters_and_searches_orders(engine, admin_page):
    page = admin_page
    confirmed = engine.place({"amount": "1", "tokenIn": "SOL", "tokenOut": "USDC"})["orderId"]
    failed = engine.place({"amount": "5", "tokenIn": "USDC", "tokenOut": "BONK"})["orderId"]
    final = engine.wait_terminal(confirmed)
    assert engine.wait_terminal(failed)["status"] == "failed"

    page.goto(f"{engine.url}/admin/orders/order/")
    headers = page.locator("#result_list thead th").all_inner_texts()
    for column in ("ID", "PAIR", "AMOUNT", "STATUS", "DEX", "AMOUNT OUT", "ATTEMPT", "CREATED AT"):
        assert any(column in header.upper() for header in headers), (column, headers)
    expect_rows(page, failed, confirmed)
    filters = page.locator("#changelist-filter")
    expect(filters.get_by_role("link", name="Past 7 days", exact=True)).to_be_visible()

    page.locator("#changelist-filter").get_by_role("link", name="Failed", exact=True).click()
    expect(page).to_have_url(re.compile(r"status__exact=failed"))
    expect_rows(page, failed)

    page.goto(f"{engine.url}/admin/orders/order/")
    page.locator("#changelist-filter").get_by_role("link", name="SOL → USDC").click()
    expect_rows(page, confirmed)

    page.goto(f"{engine.url}/admin/orders/order/")
    page.locator("#changelist-filter").get_by_role("link", name=final["dex"], exact=True).click()
    expect_rows(page, confirmed)

    for term in (failed, final["txHash"]):
        page.goto(f"{engine.url}/admin/orders/order/")
        page.fill("#searchbar", term)
        page.press("#searchbar", "Enter")
        expect_rows(page, failed if term == failed else confirmed)


def test_an_order_is_read_only_with_its_history_inline(engine, admin_page):
    page = admin_page
    order_id = engine.place({"amount": "1"})["orderId"]
    engine.wait_terminal(order_id)

    page.goto(f"{engine.url}/admin/orders/order/{order_id}/change/")
    history = page.locator(".inline-group .field-status")
    expect(history).to_have_count(5)
    expect(history.first).to_contain_text("Pending")
    assert page.locator("form#order_form input[type=text], form#order_form textarea").count() == 0
    expect(page.locator("input[name=_save]")).to_have_count(0)
    expect(page.get_by_role("link", name="Live order page")).to_have_attribute("href", f"/orders/{order_id}")


def run_action(page, label: str) -> None:
    page.locator("#action-toggle").check()
    page.select_option("select[name=action]", label=label)
    page.click("button[name=index]")


def test_cancel_goes_through_the_service_and_leaves_finished_orders_alone(engine, admin_page):
    page = admin_page
    order_id = engine.place({"amount": "1"})["orderId"]
    assert engine.wait_terminal(order_id)["status"] == "confirmed"

    page.goto(f"{engine.url}/admin/orders/order/")
    run_action(page, "Cancel selected pending or waiting orders")

    expect(page.locator(".messagelist")).to_contain_text("Cancelled 0 orders.")
    expect(page.locator(".messagelist")).to_contain_text(
        "1 order was left alone: already routing or finished."
    )
    assert engine.order(order_id)["status"] == "confirmed"


def test_retry_places_a_failed_order_again_through_the_service(engine, admin_page):
    page = admin_page
    order_id = engine.place({"amount": "5", "tokenIn": "USDC", "tokenOut": "BONK"})["orderId"]
    assert engine.wait_terminal(order_id)["status"] == "failed"

    page.goto(f"{engine.url}/admin/orders/order/?status__exact=failed")
    run_action(page, "Retry selected failed orders")

    expect(page.locator(".messagelist")).to_contain_text("Retried 1 order.")
    retry = Order.objects.get(retry_of_id=order_id)
    assert (retry.token_in, retry.token_out, retry.amount) == ("USDC", "BONK", 5)
    assert engine.wait_terminal(str(retry.id))["status"] == "failed"  # still no USDC/BONK pool
    assert engine.order(order_id)["status"] == "failed"


def test_an_operator_filters_by_type_and_cancels_a_waiting_order(engine, admin_page):
    page = admin_page
    market = engine.place({"amount": "1"})["orderId"]
    limit = engine.place({"type": "limit", "amount": "1", "limitPrice": "10000"})["orderId"]
    assert engine.wait_terminal(market)["status"] == "confirmed"

    page.goto(f"{engine.url}/admin/orders/order/")
    page.locator("#changelist-filter").get_by_role("link", name="Limit", exact=True).click()
    expect(page).to_have_url(re.compile(r"type__exact=limit"))
    expect_rows(page, limit)

    run_action(page, "Cancel selected pending or waiting orders")

    expect(page.locator(".messagelist")).to_contain_text("Cancelled 1 order.")
    assert engine.order(limit)["status"] == "cancelled"


def test_an_order_page_shows_its_trigger(engine, admin_page):
    page = admin_page
    limit = engine.place({"type": "limit", "amount": "1", "limitPrice": "10000", "expiresInSeconds": 600})
    market = engine.place({"amount": "1"})["orderId"]

    page.goto(f"{engine.url}/admin/orders/order/{limit['orderId']}/change/")
    expect(page.locator(".field-limit_price")).to_contain_text("10000")
    expect(page.locator(".field-expires_at")).to_contain_text(re.compile(r"\d{4}"))
    expect(page.locator(".field-max_price")).to_be_visible()
    expect(page.locator(".field-triggered_at")).to_be_visible()

    page.goto(f"{engine.url}/admin/orders/order/{market}/change/")
    expect(page.locator(".field-limit_price")).to_have_count(0)
