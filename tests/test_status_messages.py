"""Every status message on the feeds is typed "status", whatever the order type;
the all-orders feed may carry several in one "batch" frame, in order."""

import asyncio
import json

import websockets


def test_every_message_on_the_all_orders_feed_is_a_status_message(engine):
    async def watch_feed_while_placing():
        async with asyncio.timeout(30), websockets.connect(f"{engine.ws}/ws/orders") as feed:
            placed = await asyncio.to_thread(engine.place, {"amount": "0.2"})
            messages = []
            while not messages or messages[-1].get("status") != "confirmed":
                frame = json.loads(await feed.recv())
                assert frame["type"] in ("status", "batch"), frame
                for message in frame["events"] if frame["type"] == "batch" else [frame]:
                    if message.get("orderId") == placed["orderId"]:
                        messages.append(message)
            return messages

    messages = asyncio.run(watch_feed_while_placing())

    statuses = [message["status"] for message in messages]
    assert statuses == ["pending", "routing", "building", "submitted", "confirmed"]
    assert all(message["type"] == "status" for message in messages)
    assert messages[0]["orderType"] == "market" and messages[0]["tokenIn"] == "SOL"
