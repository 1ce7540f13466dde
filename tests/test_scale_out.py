"""Two machines' worth of engine (two daphnes, two worker pools, two clocks)
on one Redis and one database behave as one engine: an order placed on one
web server is watched on the other, and ORDER_CONCURRENCY holds across both."""

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import websockets

from tests.engine import FAST_MARKET, LOG_DIR, Engine
from tests.test_concurrency_cap import in_flight_interval, peak_overlap

SCALE_OUT = {"MOCK_SWAP_LATENCY_MS": "300-500", "ORDER_CONCURRENCY": "4"}


async def watch(url: str) -> tuple[list[dict], int]:
    messages = []
    async with asyncio.timeout(30), websockets.connect(url) as socket:
        async for frame in socket:
            messages.append(json.loads(frame))
        return messages, socket.close_code


def worker_log_mentions(engine: Engine, order_ids: set[str]) -> set[str]:
    found = set()
    for line in (LOG_DIR / f"{engine.name}-worker.log").read_text(errors="replace").splitlines():
        if line.startswith("{"):
            order_id = json.loads(line).get("orderId")
            if order_id in order_ids:
                found.add(order_id)
    return found


def test_two_instances_share_orders_sockets_and_the_concurrency_cap(engines, market):
    # Through the fixture, so that any engine an earlier test left running
    # stops first: its clock would admit by its own ORDER_CONCURRENCY.
    first = engines("scale-a", **SCALE_OUT)
    # The same market and sweep as the first (no drift to move prices
    # between a quote and its swap), with the default number of web processes.
    second_env = {**FAST_MARKET, **SCALE_OUT}
    del second_env["WEB_PROCESSES"]
    second = Engine("scale-b", second_env)
    try:
        second.start()
        assert first.port != second.port

        # Placed on one instance, watched on the other.
        placed = first.place({"amount": "1"})
        on_second = placed["wsUrl"].replace(first.ws, second.ws)
        messages, close_code = asyncio.run(watch(on_second))
        assert messages[0]["type"] == "snapshot" and messages[0]["orderId"] == placed["orderId"]
        assert messages[-1]["type"] == "status" and messages[-1]["status"] == "confirmed"
        assert close_code == 1000

        # Twenty orders split across both: never more than four in flight.
        with ThreadPoolExecutor(max_workers=20) as pool:
            answers = list(pool.map(lambda i: (first, second)[i % 2].place({"amount": "0.5"}), range(20)))
        orders = [second.wait_terminal(answer["orderId"], timeout=90) for answer in answers]
        assert all(order["status"] == "confirmed" for order in orders), [order["error"] for order in orders]
        peak = peak_overlap([in_flight_interval(order) for order in orders])
        assert 1 < peak <= 4

        # And both worker pools did part of the work.
        order_ids = {order["orderId"] for order in orders}
        assert worker_log_mentions(first, order_ids) and worker_log_mentions(second, order_ids)
    finally:
        second.stop()
