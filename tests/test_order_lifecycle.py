"""A market order from the outside: POST, watch its socket, see it confirmed."""

import asyncio
import json

import websockets

LIFECYCLE = ["pending", "routing", "building", "submitted", "confirmed"]


async def read_until_closed(url: str, *, timeout: float = 30) -> tuple[list[dict], int]:
    messages = []
    async with asyncio.timeout(timeout):
        async with websockets.connect(url) as socket:
            try:
                async for frame in socket:
                    messages.append(json.loads(frame))
            except websockets.ConnectionClosedError:
                pass  # a close code other than 1000; the caller checks it
            return messages, socket.close_code


def test_an_order_streams_every_status_in_order_then_closes(engines, market):
    # Quotes slow enough that the socket is open before the order reaches
    # building, so that every status from building on comes as a message.
    engine = engines("slow-quotes", MOCK_QUOTE_LATENCY_MS="500")
    placed = engine.place({"amount": "1.5", "tokenIn": "SOL", "tokenOut": "USDC", "slippageBps": 100})
    assert placed["status"] == "pending"
    assert placed["wsUrl"] == f"{engine.ws}/ws/orders/{placed['orderId']}"

    messages, close_code = asyncio.run(read_until_closed(placed["wsUrl"]))

    snapshot, *updates = messages
    assert snapshot["type"] == "snapshot" and snapshot["orderId"] == placed["orderId"]
    seen = [entry["status"] for entry in snapshot["history"]] + [update["status"] for update in updates]
    assert seen == LIFECYCLE
    assert all(update["type"] == "status" and update["attempt"] == 1 for update in updates)
    by_status = {update["status"]: update for update in updates}
    building = by_status["building"]
    assert building["dex"] in ("raydium", "meteora", "split")
    assert {quote["dex"] for quote in building["quotes"]} == {"raydium", "meteora"}
    assert float(building["minAmountOut"]) <= float(building["expectedAmountOut"])
    assert 86 <= len(by_status["submitted"]["txHash"]) <= 88
    confirmed = by_status["confirmed"]
    assert confirmed["txHash"] == by_status["submitted"]["txHash"]
    assert float(confirmed["amountOut"]) >= float(building["minAmountOut"])
    assert float(confirmed["executedPrice"]) > 0 and confirmed["dex"] == building["dex"]
    assert close_code == 1000

    stored = engine.order(placed["orderId"])
    assert [entry["status"] for entry in stored["history"]] == LIFECYCLE
    assert stored["amountOut"] == confirmed["amountOut"]


def test_a_late_subscriber_gets_the_final_snapshot_and_a_close(engine):
    placed = engine.place({"amount": 100})
    final = engine.wait_terminal(placed["orderId"])

    messages, close_code = asyncio.run(read_until_closed(placed["wsUrl"]))

    assert len(messages) == 1
    snapshot = messages[0]
    assert snapshot["type"] == "snapshot" and snapshot["status"] == "confirmed"
    assert snapshot["amountOut"] == final["amountOut"]
    assert [entry["status"] for entry in snapshot["history"]] == LIFECYCLE
    assert close_code == 1000


def test_an_unknown_or_malformed_order_id_closes_with_4404(engine):
    known = engine.place({"amount": 1})["orderId"]
    for order_id in ("not-a-uuid", "00000000-0000-0000-0000-000000000000", f"{known}/", f"{known}/x"):
        messages, close_code = asyncio.run(read_until_closed(f"{engine.ws}/ws/orders/{order_id}"))
        assert messages == [] and close_code == 4404, order_id


def test_a_path_with_no_feed_closes_with_4404(engine):
    for path in ("/ws/nothing-here", "/ws/orders/", "/"):
        messages, close_code = asyncio.run(read_until_closed(f"{engine.ws}{path}"))
        assert messages == [] and close_code == 4404, path


def test_an_order_placed_over_a_websocket_streams_on_that_socket(engine):
    async def place_over_socket():
        async with asyncio.timeout(30):
            async with websockets.connect(f"{engine.ws}/api/orders/execute") as socket:
                await socket.send(json.dumps({"amount": "-1"}))
                error = json.loads(await socket.recv())
                await socket.send(json.dumps({"amount": "2", "tokenOut": "USDT"}))
                frames = [json.loads(frame) async for frame in socket]
                return error, frames, socket.close_code

    error, frames, close_code = asyncio.run(place_over_socket())

    assert error["type"] == "error" and "amount" in error["fields"]
    accepted, snapshot, *updates = frames
    assert accepted["type"] == "accepted" and accepted["status"] == "pending"
    assert snapshot["type"] == "snapshot" and snapshot["orderId"] == accepted["orderId"]
    assert updates[-1]["status"] == "confirmed"
    assert close_code == 1000
