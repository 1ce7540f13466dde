"""A socket that subscribes to its order misses no status, even one published
before Redis has taken its subscription: pub/sub SUBSCRIBE does not wait for
the server, so the consumer reads its snapshot only once a marker it sent
itself through the order's group has come back (or, failing that, after a
while). Real Redis, the real channel layer, the consumer in this process."""

import asyncio
from decimal import Decimal

import pytest
from asgiref.sync import SyncToAsync, sync_to_async
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from orders import consumers, services
from orders.models import OrderStatus
from orders.routing import websocket_urlpatterns

pytestmark = pytest.mark.django_db(transaction=True)


def _place():
    order, _ = services.order_place(amount=Decimal("1"), token_in="SOL", token_out="USDC")
    return order


async def _statuses_until(communicator, status: str, *, timeout: float) -> list[str]:
    """What the socket reports (the snapshot's history, then each status) until `status`."""
    seen = []
    while status not in seen:
        message = await communicator.receive_json_from(timeout=timeout)
        if message["type"] == "snapshot":
            seen += [entry["status"] for entry in message["history"]]
        else:
            seen.append(message["status"])
    return seen


async def _watch(order_id) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/orders/{order_id}")
    connected, _ = await communicator.connect()
    assert connected
    return communicator


def test_the_marker_brings_the_snapshot_and_the_stream_follows(no_engine, monkeypatch):
    # Longer than the test's deadline: only the marker can bring the snapshot in time.
    monkeypatch.setattr(consumers, "SUBSCRIPTION_WAIT_SECONDS", 60)
    order = _place()

    async def scenario():
        communicator = await _watch(order.id)
        first = await _statuses_until(communicator, "pending", timeout=10)
        await sync_to_async(services.order_transition)(order=order, to=OrderStatus.ROUTING)
        later = await _statuses_until(communicator, "routing", timeout=10)
        await communicator.disconnect()
        return first, later

    assert asyncio.run(scenario()) == (["pending"], ["routing"])


def test_a_status_published_before_the_subscription_is_live_still_reaches_the_socket(no_engine, monkeypatch):
    """Redis takes the subscription late (here: after the order moved, by
    holding the layer's SUBSCRIBE back); the order's message reaches no one,
    and neither does the marker. The socket still reports the status, from
    the snapshot it reads when the marker is overdue."""
    monkeypatch.setattr(consumers, "SUBSCRIPTION_WAIT_SECONDS", 1.0)
    order = _place()

    async def scenario():
        layer = get_channel_layer()
        real_group_add, moved = layer.group_add, asyncio.Event()

        async def late_group_add(group, channel):
            async def when_moved():
                await moved.wait()
                await real_group_add(group, channel)

            asyncio.ensure_future(when_moved())

        monkeypatch.setattr(layer, "group_add", late_group_add)
        communicator = await _watch(order.id)
        await sync_to_async(services.order_transition)(order=order, to=OrderStatus.ROUTING)
        await asyncio.sleep(0.3)  # the broadcast goes out while no one listens
        moved.set()
        seen = await _statuses_until(communicator, "routing", timeout=10)
        await communicator.disconnect()
        return seen

    assert asyncio.run(scenario()) == ["pending", "routing"]


def test_a_socket_goes_to_a_thread_only_for_its_snapshot(no_engine, monkeypatch):
    """Channels would add a trip of its own, to close stale database
    connections, before every handler and after the socket closes; the
    snapshot's own trip does that around the one call that needs it."""
    trips = []
    thread_handler = SyncToAsync.thread_handler

    def counted(self, *args, **kwargs):
        trips.append(self.func)
        return thread_handler(self, *args, **kwargs)

    monkeypatch.setattr(SyncToAsync, "thread_handler", counted)
    order = _place()

    async def scenario():
        communicator = await _watch(order.id)
        await _statuses_until(communicator, "pending", timeout=10)
        await communicator.disconnect()

    asyncio.run(scenario())

    assert [func.__name__ for func in trips] == ["_snapshot"]
