"""Sniper orders wait for a token's first pool, then fill in arrival order;
waiting orders survive a restart of every process."""

from datetime import datetime
from decimal import Decimal

from django.core.management import call_command


def routed_at(order: dict) -> datetime:
    return next(datetime.fromisoformat(e["at"]) for e in order["history"] if e["status"] == "routing")


def test_sniper_orders_fill_in_arrival_order_after_a_launch(engine):
    snipers = [
        engine.place(
            {
                "type": "sniper",
                "amount": "2",
                "tokenIn": "SOL",
                "tokenOut": "NOVA",
                "maxPrice": "0.01",
                "slippageBps": 2000,
            }
        )["orderId"]
        for _ in range(3)
    ]
    assert all(engine.order(order_id)["status"] == "waiting" for order_id in snipers)

    call_command("launch_token", "NOVA", "--dex", "raydium", "--sol", "500", "--price", "2000")

    orders = [engine.wait_terminal(order_id, timeout=30) for order_id in snipers]
    assert [order["status"] for order in orders] == ["confirmed"] * 3
    assert [routed_at(order) for order in orders] == sorted(routed_at(order) for order in orders)
    for order in orders:
        # Never paid more than maxPrice: at least 2 / 0.01 = 200 NOVA.
        assert Decimal(order["amountOut"]) >= 200
        assert Decimal(order["executedPrice"]) > 1000  # NOVA per SOL, near the launch price


def test_a_sniper_order_for_a_token_that_already_trades_is_refused(engine):
    status, answer = engine.request(
        "POST", "/api/orders/execute", {"type": "sniper", "amount": "1", "tokenOut": "USDC", "maxPrice": "1"}
    )
    assert status == 400 and "tokenOut" in answer["fields"]


def test_waiting_orders_survive_a_restart_of_every_process(engines, market):
    engine = engines("restart-a")
    limit = engine.place(
        {"type": "limit", "amount": "1", "limitPrice": "1", "tokenIn": "SOL", "tokenOut": "USDC"}
    )["orderId"]  # already reachable once a pool moves
    far = engine.place({"type": "limit", "amount": "1", "limitPrice": "10000"})["orderId"]
    sniper = engine.place(
        {"type": "sniper", "amount": "1", "tokenOut": "LUMEN", "maxPrice": "0.01", "slippageBps": 2000}
    )["orderId"]
    engines.stop_all()

    engine = engines("restart-b")
    call_command("launch_token", "LUMEN", "--dex", "meteora", "--sol", "400", "--price", "1500")

    assert engine.wait_terminal(sniper, timeout=30)["status"] == "confirmed"
    assert engine.wait_terminal(limit, timeout=30)["status"] == "confirmed"
    # The check that fired `limit` looked at it too.
    assert engine.order(far)["status"] == "waiting"
