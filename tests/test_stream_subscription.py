"""A socket that follows its order misses no status and repeats none: it
joins the order's group, whose messages reach it from then on
(config/channel_layer.py), then reads its snapshot, and drops the messages
the snapshot already shows. Real Redis, the real channel layer, the
consumer in this process."""

import asyncio
import json
import logging
import time
import uuid
from decimal import Decimal

import pytest
import redis
from asgiref.sync import SyncToAsync, sync_to_async
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.conf import settings

from orders import broadcast, consumers, jobs, services
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


def test_the_snapshot_comes_at_once_and_the_stream_follows(no_engine):
    order = _place()

    async def scenario():
        communicator = await _watch(order.id)
        first = await _statuses_until(communicator, "pending", timeout=10)
        await sync_to_async(services.order_transition)(order=order, to=OrderStatus.ROUTING)
        later = await _statuses_until(communicator, "routing", timeout=10)
        await communicator.disconnect()
        return first, later

    assert asyncio.run(scenario()) == (["pending"], ["routing"])


def _move_while_the_snapshot_is_read(monkeypatch, order, *, read_first: bool) -> None:
    """The order moves to `routing`, and its broadcast is out, while the
    socket reads its snapshot: just before the read, or just after it."""
    read = consumers._snapshot.func

    def move():
        services.order_transition(order=order, to=OrderStatus.ROUTING)

    def snapshot_with_a_move(order_id):
        if read_first:
            found = read(order_id)
            move()
            return found
        move()
        return read(order_id)

    monkeypatch.setattr(consumers, "_snapshot", database_sync_to_async(snapshot_with_a_move))


@pytest.mark.parametrize("read_first", [False, True], ids=["moved-before-the-read", "moved-after-the-read"])
def test_a_status_sent_while_the_snapshot_is_read_is_reported_once(no_engine, monkeypatch, read_first):
    """Moved before the read, the snapshot shows `routing` and the message
    that comes after it is dropped; moved after, the message brings it."""
    order = _place()
    _move_while_the_snapshot_is_read(monkeypatch, order, read_first=read_first)

    async def scenario():
        communicator = await _watch(order.id)
        first = await communicator.receive_json_from(timeout=10)
        await sync_to_async(services.order_transition)(order=order, to=OrderStatus.BUILDING)
        seen = [entry["status"] for entry in first["history"]]
        seen += await _statuses_until(communicator, "building", timeout=10)
        await communicator.disconnect()
        return first["status"], seen

    snapshot_status, seen = asyncio.run(scenario())

    assert snapshot_status == ("pending" if read_first else "routing")
    assert seen == ["pending", "routing", "building"]


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


def _drop_the_subscription() -> None:
    """Redis closes this process's group subscriber connection."""
    subscriber = get_channel_layer()._get_layer()._subscriber
    host, port = subscriber._transport.get_extra_info("sockname")[:2]
    redis.Redis.from_url(settings.REDIS_URL).client_kill(f"{host}:{port}")


async def _move_unbroadcast(monkeypatch, order, statuses, caught: list) -> None:
    """Move the order through `statuses`, their broadcasts caught instead of sent."""
    with monkeypatch.context() as gap:
        gap.setattr(broadcast, "publish", caught.extend)
        for status in statuses:
            await sync_to_async(services.order_transition)(order=order, to=status)


async def _lose_subscription_go_on(communicator, order, *, frames: int, then) -> tuple:
    """Drop the subscription and read `frames` frames (the catch-up); move the
    order on to `then` and read its status, live. Returns both, and whether
    anything more came."""
    _drop_the_subscription()
    caught_up = [await communicator.receive_json_from(timeout=10) for _ in range(frames)]
    await sync_to_async(services.order_transition)(order=order, to=then)
    live = await communicator.receive_json_from(timeout=10)
    nothing_more = await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()
    return caught_up, live, nothing_more


def test_statuses_lost_with_the_subscription_come_from_the_history_once_it_is_back(no_engine, monkeypatch):
    """Statuses broadcast while the process's subscription was down never
    arrive as messages. Once it is back, the socket sends those past its
    progress from the order's history, each as it was broadcast, then goes
    on live."""
    order = _place()
    lost = []

    async def scenario():
        communicator = await _watch(order.id)
        await _statuses_until(communicator, "pending", timeout=10)
        # Two moves whose broadcasts go nowhere, as if sent in the gap.
        await _move_unbroadcast(monkeypatch, order, (OrderStatus.ROUTING, OrderStatus.BUILDING), lost)
        return await _lose_subscription_go_on(communicator, order, frames=2, then=OrderStatus.SUBMITTED)

    caught_up, live, nothing_more = asyncio.run(scenario())

    # What the order's socket would have got, as the layer delivers it (JSON).
    sent = [
        event for group, message in lost if group != broadcast.ALL_ORDERS_GROUP for event in message["events"]
    ]
    assert caught_up == json.loads(json.dumps(sent, default=str))
    assert [m["status"] for m in caught_up] == ["routing", "building"]
    assert live["status"] == "submitted" and nothing_more


async def _feed() -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/orders")
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def _feed_and_its_order() -> tuple[WebsocketCommunicator, object]:
    """A feed socket, and an order placed once it is open (its `pending` read)."""
    communicator = await _feed()
    order = await sync_to_async(_place)()
    assert (await communicator.receive_json_from(timeout=10))["status"] == "pending"
    return communicator, order


def _resubscribed(since: float) -> dict:
    """The layer's word that the subscription was lost and is back."""
    return {"type": "layer.resubscribed", "since": since}


def _lost_feed_broadcasts(lost: list) -> list[dict]:
    """The feed's messages among the broadcasts caught, as a socket gets them (JSON)."""
    sent = [
        event for group, message in lost if group == broadcast.ALL_ORDERS_GROUP for event in message["events"]
    ]
    return json.loads(json.dumps(sent, default=str))


def _feed_catches_up(monkeypatch) -> tuple[dict, list, dict, bool]:
    """The feed sees an order's `pending` and `routing` live; `building` and
    `submitted` are broadcast into the void; the subscription drops. Returns
    what the feed sends then, the broadcasts lost, the next status and
    whether anything more came."""
    lost = []

    async def scenario():
        communicator, order = await _feed_and_its_order()
        await sync_to_async(services.order_transition)(order=order, to=OrderStatus.ROUTING)
        assert (await communicator.receive_json_from(timeout=10))["status"] == "routing"
        await _move_unbroadcast(monkeypatch, order, (OrderStatus.BUILDING, OrderStatus.SUBMITTED), lost)
        return await _lose_subscription_go_on(communicator, order, frames=1, then=OrderStatus.CONFIRMED)

    [caught_up], live, nothing_more = asyncio.run(scenario())
    return caught_up, _lost_feed_broadcasts(lost), live, nothing_more


def test_the_feed_catches_up_on_the_statuses_lost_with_the_subscription(no_engine, monkeypatch):
    """Once the subscription is back, the feed sends the statuses recorded
    since the last message the lost connection read was sent, each as it was broadcast,
    but those it sent already (`pending` and `routing`, recorded within the
    catch-up's margin): one batch, then the feed goes on live."""
    caught_up, sent, live, nothing_more = _feed_catches_up(monkeypatch)

    assert caught_up == {"type": "batch", "events": sent}
    assert [event["status"] for event in sent] == ["building", "submitted"]
    assert (live["orderId"], live["status"]) == (sent[0]["orderId"], "confirmed") and nothing_more


def test_the_feed_catches_up_on_the_latest_statuses_at_most(no_engine, monkeypatch, caplog):
    """The catch-up reads a bounded number of the latest statuses: past it,
    the earlier ones are not sent, and the log says so."""
    monkeypatch.setattr(consumers, "FEED_CATCH_UP_MOST", 1)

    with caplog.at_level(logging.WARNING, logger="orders.consumers"):
        caught_up, sent, live, nothing_more = _feed_catches_up(monkeypatch)

    assert caught_up == sent[-1] and caught_up["status"] == "submitted"
    assert live["status"] == "confirmed" and nothing_more
    assert "catches up on the latest 1 statuses only" in caplog.text


def test_the_feed_catches_up_from_its_margin_before_the_loss_once_and_in_frames(no_engine, monkeypatch):
    """The layer's word, sent here straight to the feed's group: a loss
    later than the statuses by more than the margin brings none of them;
    one within it brings each once, FEED_CATCH_UP_FRAME to a frame; the
    same word again brings nothing more."""
    monkeypatch.setattr(consumers, "FEED_CATCH_UP_FRAME", 1)
    lost = []

    async def scenario():
        layer = get_channel_layer()
        communicator, order = await _feed_and_its_order()
        await _move_unbroadcast(monkeypatch, order, (OrderStatus.ROUTING, OrderStatus.BUILDING), lost)
        recorded = time.time()

        async def lost_since(since: float) -> list[dict]:
            await layer.group_send(broadcast.ALL_ORDERS_GROUP, _resubscribed(since))
            got = []
            while not await communicator.receive_nothing(timeout=0.5):  # what comes within the wait
                got.append(await communicator.receive_json_from())
            return got

        margin = consumers.FEED_CATCH_UP_MARGIN_SECONDS
        after_the_margin = await lost_since(recorded + margin + 1)
        within_it = await lost_since(recorded + margin - 1)
        again = await lost_since(recorded)
        await communicator.disconnect()
        return after_the_margin, within_it, again

    after_the_margin, within_it, again = asyncio.run(scenario())

    assert after_the_margin == []
    assert within_it == _lost_feed_broadcasts(lost)
    assert [message["status"] for message in within_it] == ["routing", "building"]
    assert again == []


def test_the_feed_sends_a_status_that_comes_after_a_later_one(no_engine):
    """A `pending` broadcast from a web process's thread can reach the feed
    after the `routing` a worker broadcast: the feed sends it all the same."""
    order_id, at = str(uuid.uuid4()), "2026-01-01T00:00:00Z"
    events = [
        {"type": "status", "orderId": order_id, "status": status, "at": at, "attempt": 1}
        for status in ("routing", "pending")
    ]

    async def scenario():
        layer = get_channel_layer()
        communicator = await _feed()
        for event in events:
            await layer.group_send(broadcast.ALL_ORDERS_GROUP, {"type": "order.events", "events": [event]})
        got = [await communicator.receive_json_from(timeout=10) for _ in events]
        await communicator.disconnect()
        return got

    assert asyncio.run(scenario()) == events


def test_a_status_caught_up_on_is_not_sent_again_when_its_broadcast_comes(no_engine, monkeypatch):
    """A status committed after the subscription was back reaches the feed
    behind the layer's word: the catch-up sends it, and its broadcast,
    coming after, is not sent again."""
    held = []

    async def scenario():
        layer = get_channel_layer()
        communicator, order = await _feed_and_its_order()
        await _move_unbroadcast(monkeypatch, order, (OrderStatus.ROUTING,), held)
        await layer.group_send(broadcast.ALL_ORDERS_GROUP, _resubscribed(time.time()))
        await sync_to_async(broadcast.publish)(held)
        caught_up = await communicator.receive_json_from(timeout=10)
        nothing_more = await communicator.receive_nothing(timeout=0.5)
        await communicator.disconnect()
        return caught_up, nothing_more

    caught_up, nothing_more = asyncio.run(scenario())

    assert caught_up["status"] == "routing" and nothing_more


def test_the_catch_up_never_takes_an_order_back(no_engine, monkeypatch):
    """An order moved on just before the feed opened, then further while it
    was open, and the subscription was lost: its earlier statuses, recorded
    within the catch-up's margin but never sent on this socket, stay unsent."""

    async def scenario():
        layer = get_channel_layer()
        order = await sync_to_async(_place)()
        await sync_to_async(services.order_transition)(order=order, to=OrderStatus.ROUTING)
        await sync_to_async(broadcast.flush)()  # both are out before the feed opens
        communicator = await _feed()
        await sync_to_async(services.order_transition)(order=order, to=OrderStatus.BUILDING)
        live = await communicator.receive_json_from(timeout=10)
        await layer.group_send(broadcast.ALL_ORDERS_GROUP, _resubscribed(time.time()))
        nothing_more = await communicator.receive_nothing(timeout=0.5)
        await communicator.disconnect()
        return live, nothing_more

    live, nothing_more = asyncio.run(scenario())

    assert live["status"] == "building" and nothing_more


def _retry_of_a_failed_order():
    """A failed order, its broadcasts out; what places its retry."""
    failed = _place()
    services.order_fail(order=failed, error="No route.", code="no_route")
    broadcast.flush()
    return lambda: services.order_retry_failed(order=failed)


@pytest.mark.parametrize("placed_as", ["new", "retry"])
def test_an_order_admitted_before_its_placement_is_broadcast_reaches_the_feed_in_order(
    market, no_engine, monkeypatch, settings, placed_as
):
    """A placement sends `pending` from its web process's broadcast thread
    after its commit, and an admission round can take the order and
    broadcast before that. The round's feed message carries the `pending`
    first, as the placement sent it; when the placement's comes, the feed
    does not send it again."""
    settings.MOCK_QUOTE_LATENCY_MS = settings.MOCK_SWAP_LATENCY_MS = (0, 0)
    place = _place if placed_as == "new" else _retry_of_a_failed_order()
    held = []

    async def scenario():
        communicator = await _feed()
        with monkeypatch.context() as late:
            late.setattr(broadcast, "publish", held.extend)
            await sync_to_async(place)()
            await sync_to_async(broadcast.flush)()
        await sync_to_async(jobs.admit_orders)(linger=0)
        admitted = await communicator.receive_json_from(timeout=10)
        await sync_to_async(broadcast.publish)(held)  # the placement's, late
        nothing_more = await communicator.receive_nothing(timeout=0.5)
        await communicator.disconnect()
        return admitted, nothing_more

    admitted, nothing_more = asyncio.run(scenario())

    [placed] = _lost_feed_broadcasts(held)
    assert [event["status"] for event in admitted["events"]] == [
        "pending",
        "routing",
        "building",
        "submitted",
        "confirmed",
    ]
    assert admitted["events"][0] == placed and nothing_more
    assert ("retryOf" in placed) == (placed_as == "retry")


def test_a_placement_socket_says_the_database_is_not_answering_and_stays_open(no_engine, monkeypatch):
    # As the REST API answers 503; a bare close left the client unable to
    # tell whether its order was placed.
    from django.db import OperationalError

    def locked(self, data):
        raise OperationalError("database is locked")

    async def scenario():
        communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/api/orders/execute")
        connected, _ = await communicator.connect()
        assert connected
        await communicator.send_json_to({"amount": "0.1"})
        refused = await communicator.receive_json_from(timeout=10)
        monkeypatch.undo()
        await communicator.send_json_to({"amount": "0.1"})
        accepted = await communicator.receive_json_from(timeout=10)
        await communicator.disconnect()
        return refused, accepted

    monkeypatch.setattr(consumers.OrderPlacementConsumer, "_place", locked)
    refused, accepted = asyncio.run(scenario())

    assert refused == {
        "type": "error",
        "error": "The database is not answering (OperationalError); try again shortly.",
    }
    assert accepted["type"] == "accepted"
