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
    placed = []
    for body in orders:
        # One at a time: the same pictures every run (a concurrent 3,000 SOL
        # swap can push a small order past its slippage).
        placed.append(engine.place(body)["orderId"])
        engine.wait_terminal(placed[-1])
    cancelled = engine.place(
        {"type": "limit", "amount": "5", "tokenIn": "SOL", "tokenOut": "USDT", "limitPrice": "175"}
    )
    engine.request("POST", f"/api/orders/{cancelled['orderId']}/cancel", {})
    sniper = engine.place({"type": "sniper", "amount": "3", "tokenOut": "NOVA", "maxPrice": "0.001"})
    limit = engine.place(
        {"type": "limit", "amount": "10", "tokenIn": "SOL", "tokenOut": "USDC", "limitPrice": "152.5"}
    )
    DOCS.mkdir(exist_ok=True)

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(engine.url)
    page.check("#type-limit")
    page.fill("#amount", "12.5")
    page.fill("#limitPrice", "155")
    expect(page.locator("#quote-best")).to_contain_text("Best:")
    expect(page.locator(f'tr[data-order-id="{limit["orderId"]}"] .distance')).to_contain_text(
        "below the limit"
    )
    expect(page.locator(f'tr[data-order-id="{sniper["orderId"]}"] .distance')).to_contain_text("not trading")
    page.screenshot(path=DOCS / "dashboard.png")

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(engine.url)
    page.check("#type-sniper")
    page.fill("#amount", "2")
    page.fill("#maxPrice", "0.001")
    expect(page.locator("#estimate")).to_have_text("≥ 2,000")
    page.screenshot(path=DOCS / "dashboard-phone.png", full_page=False)

    page.set_viewport_size({"width": 1280, "height": 860})
    page.goto(f"{engine.url}/orders/{placed[1]}")
    expect(page.locator("#order-status")).to_have_text("confirmed")
    page.screenshot(path=DOCS / "order-detail.png", full_page=True)

    page.goto(f"{engine.url}/orders/{limit['orderId']}")
    expect(page.locator("#order-status")).to_have_text("waiting")
    page.screenshot(path=DOCS / "order-waiting.png", full_page=True)
