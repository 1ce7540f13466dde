"""Screenshots of the dashboard for the README: `SCREENSHOTS=1 pytest tests/browser -k screenshots`."""

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

DOCS = Path(__file__).resolve().parents[2] / "docs"

pytestmark = pytest.mark.skipif(
    not os.environ.get("SCREENSHOTS"), reason="set SCREENSHOTS=1 to refresh docs/*.png"
)


def test_screenshots_of_the_dashboard_and_an_order(engine, page, console):
    console.allow_http(422)
    orders = [
        {"amount": "2", "tokenIn": "SOL", "tokenOut": "USDC"},
        {"amount": "3000", "tokenIn": "SOL", "tokenOut": "USDC", "slippageBps": 100},
        {"amount": "250", "tokenIn": "USDC", "tokenOut": "USDT"},
        {"amount": "10", "tokenIn": "USDC", "tokenOut": "BONK"},
        {"amount": "1.25", "tokenIn": "SOL", "tokenOut": "BONK"},
        {"amount": "40", "tokenIn": "SOL", "tokenOut": "USDT", "slippageBps": 30},
    ]
    placed = [engine.place(body)["orderId"] for body in orders]
    for order_id in placed:
        engine.wait_terminal(order_id)
    DOCS.mkdir(exist_ok=True)

    page.set_viewport_size({"width": 1280, "height": 860})
    page.goto(engine.url)
    page.fill("#amount", "12.5")
    expect(page.locator("#quote-best")).to_contain_text("Best:")
    page.screenshot(path=DOCS / "dashboard.png")

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(engine.url)
    page.fill("#amount", "12.5")
    expect(page.locator("#quote-best")).to_contain_text("Best:")
    page.screenshot(path=DOCS / "dashboard-phone.png", full_page=False)

    page.set_viewport_size({"width": 1280, "height": 860})
    page.goto(f"{engine.url}/orders/{placed[1]}")
    expect(page.locator("#order-status")).to_have_text("confirmed")
    page.screenshot(path=DOCS / "order-detail.png", full_page=True)
