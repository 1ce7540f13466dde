"""WebSocket consumers: one order's stream, the all-orders feed, and order
placement over a socket.

A subscriber first gets a snapshot of the order as it is now, so one that
joins late misses nothing, then one message per status. Group sends are
at-most-once: when the process's subscription was lost, the layer says so
(`layer.resubscribed`) and both catch up from the orders' history: an
order's stream from its order's, the feed from the statuses recorded since
the loss. After a client's reconnect the snapshot (or REST) is the truth.
"""

import json
import logging
import time
import uuid
from collections import OrderedDict
from datetime import UTC, datetime

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import InterfaceError, OperationalError
from rest_framework.exceptions import AuthenticationFailed, Throttled, ValidationError

from orders import metrics, services
from orders.api.auth import MayPlaceOrders, Placer, api_key_from_header
from orders.api.errors import _database_unavailable, _flatten, database_not_answering, error_body
from orders.api.parsers import loads_order
from orders.api.throttling import client_address, count_placement, too_many_orders
from orders.api.views import BackPressure, place_order
from orders.broadcast import ALL_ORDERS_GROUP, order_group
from orders.models import LIFECYCLE, TERMINAL_STATUSES, Order, OrderEvent
from orders.serializers import order_to_dict, status_message

log = logging.getLogger(__name__)

CLOSE_UNAUTHORIZED = 4401
CLOSE_NOT_FOUND = 4404
CLOSE_NORMAL = 1000
MAX_FRAME_BYTES = 64 * 1024


# Every terminal status ranks last: an order reaches one.
ENDED = len(LIFECYCLE)

# The feed's catch-up after a lost subscription reads the statuses recorded
# from this long before the last message the lost connection read was sent
# (config/group_subscriber.py): a status is stamped before its transaction
# waits for the write lock, and broadcast after its commit, from a thread
# that may be behind; workers on other hosts keep their own clocks. Statuses
# the socket has sent are not sent again, so a wide margin costs only the read.
FEED_CATCH_UP_MARGIN_SECONDS = 10.0
# It reads at most this many of the latest statuses, newest first (by the
# history's primary key, so the read costs the same however long the history
# is): the margin and more at the engine's full speed.
FEED_CATCH_UP_MOST = 20_000
# What it sends, in frames of at most this many statuses (a client's frame
# limit is often 1 MiB).
FEED_CATCH_UP_FRAME = 200
# How many orders a feed socket remembers the statuses it sent of, to send
# none twice when it catches up: the most recently active ones.
FEED_ORDERS_KEPT = 10_000


def _progress(status: str, attempt: int) -> tuple[int, int]:
    """Where a status stands in an order's life, to drop stale or repeated events."""
    rank = ENDED if status in TERMINAL_STATUSES else LIFECYCLE.index(status)
    return attempt, rank


def _dumps(message: dict) -> str:
    return json.dumps(message, default=str)


async def _placer(scope) -> Placer:
    """Who opened the socket: the API key it sent (`Authorization: Bearer`;
    AuthenticationFailed for one that is malformed, unknown or revoked, as
    over REST), and the logged-in user of its session."""
    user = scope.get("user")
    header = dict(scope.get("headers", [])).get(b"authorization", b"").decode("latin-1")
    return Placer(
        api_key=await database_sync_to_async(api_key_from_header)(header) if header else None,
        user=user if user is not None and user.is_authenticated else None,
    )


@database_sync_to_async
def _snapshot(order_id) -> dict | None:
    found = Order.with_history(order_id)
    return order_to_dict(found[0], events=found[1]) if found else None


@database_sync_to_async
def _history_messages(order_id) -> list[dict]:
    """The status messages the order has been broadcast with so far."""
    found = Order.with_history(order_id)
    return [status_message(event) for event in found[1]] if found else []


def _sent_bit(order_status: str, attempt: int) -> int:
    """A status's bit in the mask of those a feed socket sent of an order.
    Later statuses have higher bits: one beyond all an order's sent is
    greater than their mask."""
    attempt, rank = _progress(order_status, attempt)
    return 1 << ((attempt - 1) * (ENDED + 1) + rank)


@database_sync_to_async
def _statuses_since(since: float) -> list[tuple]:
    """(id, order id, status, attempt) of every status recorded at or after
    `since` (time.time()), oldest first: at most FEED_CATCH_UP_MOST."""
    # The oldest of the latest FEED_CATCH_UP_MOST, found on the primary key's index.
    latest_ids = OrderEvent.objects.order_by("-id").values_list("id", flat=True)
    first = next(iter(latest_ids[FEED_CATCH_UP_MOST - 1 : FEED_CATCH_UP_MOST]), 0)
    moment = datetime.fromtimestamp(since, UTC)
    recent = list(
        OrderEvent.objects.filter(id__gte=first, at__gte=moment)
        .order_by("id")
        .values_list("id", "order_id", "status", "attempt")
    )
    if recent and recent[0][0] == first:
        log.warning(
            "the feed catches up on the latest %d statuses only; earlier ones since the loss are not sent",
            FEED_CATCH_UP_MOST,
        )
    return recent


@database_sync_to_async
def _status_messages(ids: list[int]) -> list[dict]:
    """The status messages these history rows were broadcast as, in id order."""
    events = []
    for start in range(0, len(ids), 500):  # SQLite's limit on a statement's parameters
        events += OrderEvent.objects.filter(id__in=ids[start : start + 500]).order_by("id")
    return [status_message(event) for event in events]


class DatabaseCallsCloseTheirOwn:
    """Channels closes stale database connections before every handler it
    dispatches (a socket's connect, each message, its disconnect), a hop to
    the database thread each time. These consumers touch the database only
    through database_sync_to_async, which does the same on the thread that
    owns the connection, around each call; so they skip the extra hops."""

    async def dispatch(self, message):
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def websocket_disconnect(self, message):
        # Channels' own closes old connections once more after disconnect(), a
        # hop per socket (3 % of a web process at 186 orders/s). These
        # consumers join their groups in connect, not through self.groups.
        await self.disconnect(message["code"])
        raise StopConsumer()


class OrderStreamConsumer(DatabaseCallsCloseTheirOwn, AsyncWebsocketConsumer):
    """Streams one order: snapshot, statuses, then close with 1000.

    The socket joins its order's group, then reads the snapshot: the channel
    layer delivers every message sent to the group after group_add()
    returned (config/channel_layer.py), and every status sent before that
    was committed before the snapshot is read, so the snapshot shows it.
    Messages that arrive meanwhile wait in the channel until this handler
    returns; those the snapshot already shows are dropped then.
    """

    order_id = None
    progress = (0, -1)

    async def connect(self):
        await self.accept()
        metrics.websocket_connected(self)
        try:
            order_id = uuid.UUID(self.scope["url_route"]["kwargs"]["order_id"])
        except ValueError:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        await self.stream(order_id)

    async def stream(self, order_id) -> None:
        self.order_id = order_id
        await self.channel_layer.group_add(order_group(order_id), self.channel_name)
        snapshot = await _snapshot(order_id)
        if snapshot is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.progress = _progress(snapshot["status"], snapshot["attempt"])
        await self.send(_dumps({**snapshot, "type": "snapshot", "orderType": snapshot["type"]}))
        if snapshot["status"] in TERMINAL_STATUSES:
            await self.close(code=CLOSE_NORMAL)

    async def disconnect(self, code):
        metrics.websocket_disconnected(self)
        if self.order_id is not None:
            await self.channel_layer.group_discard(order_group(self.order_id), self.channel_name)

    async def layer_resubscribed(self, message):
        """This process's subscription was lost and is back: statuses sent
        meanwhile never came. The order's history has each one as it was
        broadcast; those past this socket's progress go out now."""
        if self.order_id is None or self.progress[1] == ENDED:
            return  # nothing placed yet, or already ended (the socket is closing)
        missed = await _history_messages(self.order_id)
        # The history is in time order, and the moves' clocks can disagree
        # (workers on other hosts): the stream goes in the order's own order.
        missed.sort(key=lambda message: _progress(message["status"], message["attempt"]))
        await self.order_events({"events": missed})

    async def order_events(self, message):
        """One frame per status, in order; close after the terminal one."""
        for event in message["events"]:
            if event["orderId"] != str(self.order_id):
                continue
            progress = _progress(event["status"], event["attempt"])
            if progress <= self.progress:
                continue
            self.progress = progress
            await self.send(_dumps(event))
            if event["status"] in TERMINAL_STATUSES:
                await self.close(code=CLOSE_NORMAL)
                return

    async def receive(self, text_data=None, bytes_data=None):
        await self.send_error("This socket streams an order and takes no messages.")

    async def send_error(self, message: str, fields: dict | None = None) -> None:
        await self.send(_dumps({"type": "error", **error_body(message, fields)}))


class OrderPlacementConsumer(OrderStreamConsumer):
    """`ws://<host>/api/orders/execute`: the first message is the order;
    the answer is `accepted` (or `error`), then the order's stream."""

    placer = None  # who may place the socket's order, once it is known they may

    def _place(self, data: dict):
        """The rate limit, then the placement: one hop to the database thread."""
        forwarded_for = dict(self.scope.get("headers", [])).get(b"x-forwarded-for")
        peer = (self.scope.get("client") or ("",))[0]
        wait = count_placement(client_address(peer, forwarded_for and forwarded_for.decode("latin-1")))
        if wait is not None:
            raise Throttled(wait)
        return place_order(data, placer=self.placer)

    async def connect(self):
        await self.accept()
        metrics.websocket_connected(self)
        try:
            placer = await _placer(self.scope)
        except AuthenticationFailed as refused:
            await self.refuse(str(refused.detail))
            return
        if settings.API_KEYS_REQUIRED and not placer.identified:
            await self.refuse(MayPlaceOrders.message)
            return
        self.placer = placer

    async def refuse(self, why: str) -> None:
        await self.send_error(why)
        await self.close(code=CLOSE_UNAUTHORIZED)

    async def receive(self, text_data=None, bytes_data=None):
        if self.placer is None:
            return  # refused and closing: frames the client sent before the close still arrive
        if self.order_id is not None:
            await self.send_error("This socket already placed an order; open a new one for another.")
            return
        raw = text_data if text_data is not None else bytes_data
        if raw is None or len(raw) > MAX_FRAME_BYTES:
            await self.send_error(f"An order must be one JSON text frame of at most {MAX_FRAME_BYTES} bytes.")
            return
        try:
            data = loads_order(raw)
        except ValueError as exc:
            await self.send_error(f"The message is not valid JSON: {exc}")
            return
        try:
            order = await database_sync_to_async(self._place)(data)
        except Throttled as refused:
            await self.send_error(too_many_orders(refused.wait))
            return
        except ValidationError as invalid:
            fields = _flatten(invalid.detail)
            named = [key for key in fields if key != "non_field_errors"]
            first = next(iter(fields.values()))[0]
            await self.send_error(
                f"Invalid {', '.join(named)}: {first}" if named else first, fields if named else None
            )
            return
        except (BackPressure, services.IdempotencyConflict) as refused:
            await self.send_error(str(refused))
            return
        except (OperationalError, InterfaceError) as exc:
            if not _database_unavailable(exc):
                raise
            # As the REST API's 503 says it: the socket stays open for the
            # same order again, where a bare close left the client guessing.
            log.warning("a placement socket: the database is not answering (%s)", exc)
            await self.send_error(database_not_answering(exc))
            return
        await self.send(_dumps({"type": "accepted", "orderId": str(order.id), "status": order.status}))
        await self.stream(order.id)


class OrdersFeedConsumer(DatabaseCallsCloseTheirOwn, AsyncWebsocketConsumer):
    """`/ws/orders`: every order's status messages, for dashboards. The ones
    one write produced come in one frame, `{"type": "batch", "events": [...]}`,
    when there are several.

    It remembers which statuses it has sent of each recently active order,
    so that what it catches up on after a lost subscription repeats none."""

    joined_at = 0.0

    async def connect(self):
        # Order id -> the mask of its statuses sent (_sent_bit), least recently active first.
        self.sent: OrderedDict[str, int] = OrderedDict()
        await self.channel_layer.group_add(ALL_ORDERS_GROUP, self.channel_name)
        self.joined_at = time.time()
        await self.accept()
        metrics.websocket_connected(self)

    async def disconnect(self, code):
        metrics.websocket_disconnected(self)
        await self.channel_layer.group_discard(ALL_ORDERS_GROUP, self.channel_name)

    async def layer_resubscribed(self, message):
        """This process's subscription was lost and is back: the statuses
        recorded since the last message the lost connection read was sent
        (and since this socket joined) go out now, but those this socket has
        sent already."""
        since = max(message["since"], self.joined_at) - FEED_CATCH_UP_MARGIN_SECONDS
        recorded = await _statuses_since(since)
        # Only statuses beyond all those sent of their order: the window can
        # reach back past what this socket sent (to before it opened, or to
        # an order it has forgotten), and an order's statuses never go back.
        beyond = [row[0] for row in recorded if _sent_bit(row[2], row[3]) > self.sent.get(str(row[1]), 0)]
        missed = await _status_messages(beyond)
        for event in missed:
            self._sent(event)  # (messages wait while this handler runs: none went out since the read)
        for start in range(0, len(missed), FEED_CATCH_UP_FRAME):
            await self._send_events(missed[start : start + FEED_CATCH_UP_FRAME])

    async def order_events(self, message):
        # Live statuses go out unless sent already (by a catch-up whose read
        # saw them committed), even one that comes after a later status of
        # its order: a `pending` from a web process's broadcast thread can
        # come after the `routing` from a worker's.
        events = [
            event
            for event in message["events"]
            if not _sent_bit(event["status"], event["attempt"]) & self._sent(event)
        ]
        await self._send_events(events)

    async def _send_events(self, events: list[dict]) -> None:
        if events:
            await self.send(_dumps(events[0] if len(events) == 1 else {"type": "batch", "events": events}))

    def _sent(self, event: dict) -> int:
        """The mask of the statuses this socket had sent of the event's
        order; the event's status counts as sent from now."""
        order_id, bit = event["orderId"], _sent_bit(event["status"], event["attempt"])
        sent = self.sent.get(order_id)
        if sent is None:
            if len(self.sent) >= FEED_ORDERS_KEPT:
                self.sent.popitem(last=False)  # the least recently active order
            self.sent[order_id] = bit
            return 0
        self.sent.move_to_end(order_id)
        self.sent[order_id] = sent | bit
        return sent

    async def receive(self, text_data=None, bytes_data=None):
        await self.send(_dumps({"type": "error", **error_body("This feed takes no messages.")}))


class NoSuchFeed(AsyncWebsocketConsumer):
    """A WebSocket path the engine has no feed at: closed with 4404."""

    async def connect(self):
        await self.accept()
        await self.close(code=CLOSE_NOT_FOUND)
