"""Sockets that send garbage, too much, or come from another site."""

import asyncio
import contextlib
import json

import pytest
import websockets
from redis import Redis

from orders.api import throttling
from orders.models import Order
from tests.engine import until_closed


async def _exchange(url: str, frames: list, *, origin: str | None = None) -> tuple[list[dict], int | None]:
    async with asyncio.timeout(20):
        async with websockets.connect(url, origin=origin, max_size=None) as socket:
            replies = []
            for frame in frames:
                await socket.send(frame)
                replies.append(json.loads(await socket.recv()))
            return replies, socket.close_code


@pytest.mark.parametrize("frame", ["not json", "{", "[1, 2]", '"amount"', "null", b"\x00\xff binary", "{}"])
def test_garbage_on_the_placement_socket_gets_an_error_and_the_socket_stays_usable(engine, frame):
    replies, _ = asyncio.run(
        _exchange(f"{engine.ws}/api/orders/execute", [frame, json.dumps({"amount": "0.1"})])
    )

    error, accepted = replies
    assert error["type"] == "error" and error["error"]
    assert accepted["type"] == "accepted"


def test_garbage_on_the_streaming_sockets_gets_an_error(engine):
    order_id = engine.place({"amount": "0.1"})["orderId"]
    engine.wait_terminal(order_id)

    feed_replies, _ = asyncio.run(_exchange(f"{engine.ws}/ws/orders", ["hello?", b"\x01\x02"]))

    assert [reply["type"] for reply in feed_replies] == ["error", "error"]


def test_an_oversized_order_message_gets_an_error(engine):
    big = json.dumps({"amount": "1", "pad": "x" * 70_000})

    replies, _ = asyncio.run(_exchange(f"{engine.ws}/api/orders/execute", [big]))

    assert replies[0]["type"] == "error" and "65536 bytes" in replies[0]["error"]


def test_a_frame_over_a_mebibyte_closes_the_socket(engine):
    async def send_huge():
        async with asyncio.timeout(20):
            socket = await websockets.connect(f"{engine.ws}/api/orders/execute", max_size=None)
            # The drop may surface while sending, receiving or closing.
            with pytest.raises(websockets.ConnectionClosed):
                await socket.send("x" * (2 * 1024 * 1024))
                await socket.recv()
            with contextlib.suppress(websockets.ConnectionClosed):
                await socket.close()
            return socket.close_code

    # daphne refuses it with 1009 and drops the connection, so the client may
    # see the drop (1006) before the close frame; either way the server lives.
    assert asyncio.run(send_huge()) in (1009, 1006)
    assert engine.healthy()


def test_a_browser_on_another_site_cannot_open_a_socket(engine):
    with pytest.raises(websockets.InvalidStatus) as refused:
        asyncio.run(_exchange(f"{engine.ws}/ws/orders", [], origin="http://evil.example"))
    assert refused.value.response.status_code == 403

    _, _ = asyncio.run(_exchange(f"{engine.ws}/ws/orders", [], origin="http://127.0.0.1"))


def test_a_refused_placement_socket_places_nothing_even_sent_at_once(engines, market):
    """A socket refused for its key (4401) places nothing, even an order
    sent before the refusal reached the client. (The key it does not know is
    looked up first, so the order arrives before the refusal; one sent with
    no key at all is refused by the same path, `placer` left unset.)"""
    engine = engines("keys-required", API_KEYS_REQUIRED="true")
    unknown_key = {"Authorization": "Bearer not-a-key"}

    replies, close_code = until_closed(
        f"{engine.ws}/api/orders/execute", [json.dumps({"amount": "0.1"})], unknown_key
    )

    assert close_code == 4401
    assert {reply["type"] for reply in replies} == {"error"}
    assert not Order.objects.exists()


def test_the_placement_socket_counts_against_the_rate_limit(engines, market, settings):
    engine = engines("one-a-minute", RATE_LIMIT_PER_MINUTE="1")
    redis = Redis.from_url(settings.REDIS_URL)
    # Earlier tests' placements from this address this minute would count too.
    redis.delete(*redis.keys(f"{throttling.KEY_PREFIX}:*") or ["-"])

    async def place() -> dict:
        async with asyncio.timeout(20):
            async with websockets.connect(f"{engine.ws}/api/orders/execute") as socket:
                await socket.send(json.dumps({"amount": "0.1"}))
                return json.loads(await socket.recv())

    first, second = asyncio.run(place()), asyncio.run(place())

    assert first["type"] == "accepted"
    assert second["type"] == "error" and second["error"].startswith("Too many orders; try again in ")
    assert Order.objects.count() == 1


def test_with_keys_required_a_placement_socket_without_one_is_refused(engines, market):
    engine = engines("keys-required", API_KEYS_REQUIRED="true")

    (refusal,), close_code = until_closed(f"{engine.ws}/api/orders/execute")

    assert close_code == 4401 and refusal["error"].startswith("Placing orders needs an API key")
