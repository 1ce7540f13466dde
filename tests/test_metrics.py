"""Prometheus metrics at /metrics, added up across the engine's processes."""

import asyncio
import urllib.request

import websockets
from prometheus_client.parser import text_string_to_metric_families


def scrape(engine) -> dict[tuple, float]:
    with urllib.request.urlopen(engine.url + "/metrics", timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def total(samples: dict, name: str, **labels) -> float:
    wanted = set(labels.items())
    return sum(value for (sample, found), value in samples.items() if sample == name and wanted <= set(found))


def test_metrics_count_an_order_from_every_process(engine):
    before = scrape(engine)

    placed = engine.place({"amount": "1"})
    assert engine.wait_terminal(placed["orderId"])["status"] == "confirmed"

    after = scrape(engine)
    # Placement is counted by the web server, the rest by the workers.
    for status in ("pending", "routing", "building", "submitted", "confirmed"):
        name = "order_transitions_total"
        assert total(after, name, status=status) >= total(before, name, status=status) + 1, status
    assert total(after, "order_transitions_total", status="confirmed", dex="none") == total(
        before, "order_transitions_total", status="confirmed", dex="none"
    ), "a confirmed order has a DEX"
    for histogram, labels in [
        ("order_routing_seconds_count", {}),
        ("order_execution_seconds_count", {"status": "confirmed"}),
        ("order_end_to_end_seconds_count", {"status": "confirmed"}),
    ]:
        assert total(after, histogram, **labels) >= total(before, histogram, **labels) + 1, histogram
    assert total(after, "order_end_to_end_seconds_sum", status="confirmed") > 0
    for gauge in ("orders_pending", "orders_in_flight", "order_queue_depth", "order_timers_pending"):
        assert (gauge, ()) in after or any(name == gauge for name, _ in after), gauge
    assert total(after, "order_concurrency_limit") == 10


def test_open_websockets_are_counted_across_processes(engine):
    async def scenario():
        name = "websocket_connections"
        before = total(await asyncio.to_thread(scrape, engine), name)

        async def counted(expected: float) -> float:
            # Counted once each socket's connect has run, which may be after
            # the handshake's answer: asked until it is, for at most 5 s.
            for _ in range(50):
                seen = total(await asyncio.to_thread(scrape, engine), name)
                if seen == expected:
                    break
                await asyncio.sleep(0.1)
            return seen

        async with websockets.connect(engine.ws + "/ws/orders"), websockets.connect(engine.ws + "/ws/orders"):
            during = await counted(before + 2)
        return before, during, await counted(before)

    before, during, after = asyncio.run(scenario())
    assert during == before + 2
    assert after == before
