"""Transient DEX failures are retried with back-off, at most three attempts;
then the order fails with the reason, and every message carries its attempt."""

import asyncio
import json

import websockets


async def stream(url: str) -> list[dict]:
    async with asyncio.timeout(30), websockets.connect(url) as socket:
        return [json.loads(frame) async for frame in socket]


def test_an_order_whose_dex_calls_always_fail_ends_failed_after_three_attempts(engines, market):
    engine = engines("dex-down", MOCK_FAILURE_RATE="1", ORDER_RETRY_BACKOFF_SECONDS="0.1")
    placed = engine.place({"amount": "1"})

    snapshot, *updates = asyncio.run(stream(placed["wsUrl"]))

    steps = [(entry["status"], entry["attempt"]) for entry in snapshot["history"]]
    steps += [(update["status"], update["attempt"]) for update in updates]
    assert steps == [("pending", 1), ("routing", 1), ("routing", 2), ("routing", 3), ("failed", 3)]
    failed = updates[-1]
    assert failed["errorCode"] == "dex_unavailable"
    assert "3 attempts" in failed["error"]
    retried = [update for update in updates if update["status"] == "routing" and update["attempt"] > 1]
    assert all("did not answer" in update["retryReason"] for update in retried)
    stored = engine.order(placed["orderId"])
    assert (stored["status"], stored["attempt"], stored["errorCode"]) == ("failed", 3, "dex_unavailable")


def test_a_flaky_dex_costs_retries_but_loses_no_order(engines, market):
    """A third of DEX calls fail: orders retry (or route around one failed
    quote); each ends confirmed, or failed only after its third attempt."""
    engine = engines("dex-flaky", MOCK_FAILURE_RATE="0.3", ORDER_RETRY_BACKOFF_SECONDS="0.05")
    placed = [engine.place({"amount": "0.2"}) for _ in range(20)]

    orders = [engine.wait_terminal(answer["orderId"], timeout=60) for answer in placed]

    assert all(order["status"] in ("confirmed", "failed") for order in orders)
    assert any(order["attempt"] > 1 for order in orders)
    for order in orders:
        assert order["attempt"] <= 3
        if order["status"] == "failed":
            assert order["errorCode"] == "dex_unavailable" and order["attempt"] == 3
