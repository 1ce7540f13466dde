"""Broadcasting order events to WebSocket subscribers through the channel layer.

What goes out is one `order.events` message per order per write, carrying
the statuses that write reached (a job that routes, submits and confirms an
order in one transaction sends one message with three), and one message to
the all-orders feed for the whole write. Consumers unpack them.

A worker must not pay `async_to_sync(group_send)` per event: each call spins a
new thread, event loop and Redis connection (about 3.5 ms). Nor does it need
an event loop at all: the committing thread sends the write's messages
itself, as PUBLISHes in one pipeline on its process's Redis client
(config.channel_layer: `group_send_many_sync`), one round trip. An order's
statuses go out in order because each write is sent before anything it sets
going (the next job, the admission of a new order) can write again. A
request that should not wait for Redis (a placement) hands its broadcast
to its process's broadcast thread instead. Sends are at-most-once, as group
sends are anyway; clients resync from the snapshot or REST.
"""

import logging
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import channel_layers
from redis.exceptions import RedisError
from rq.timeouts import BaseTimeoutException

from config.threads import leave_signals_to_the_main_thread

log = logging.getLogger(__name__)

ALL_ORDERS_GROUP = "orders.all"


def order_group(order_id) -> str:
    return f"order.{order_id}"


def publish(sends: list[tuple[str, dict]]) -> None:
    """Send each (group, message), in order, now, on this thread. A failure
    is logged, not raised: the write it reports is committed whatever Redis
    does, and subscribers catch up from the snapshot."""
    try:
        channel_layers[DEFAULT_CHANNEL_LAYER].group_send_many_sync(sends)
    except RedisError as exc:
        log.warning("broadcast to %s failed (%s)", ", ".join(group for group, _ in sends), exc)
    except BaseTimeoutException:
        raise  # rq's job timeout, raised once: swallowed, the job ran on with none
    except Exception:
        log.exception("broadcast to %s failed", ", ".join(group for group, _ in sends))


_background: dict = {}
_starting = threading.Lock()


def _broadcast_thread() -> ThreadPoolExecutor:
    """This process's broadcast thread: one, so what is handed to it goes
    out in the order it was handed over. Made anew in a forked child."""
    if _background.get("pid") != os.getpid():
        with _starting:
            if _background.get("pid") != os.getpid():
                _background.update(
                    pid=os.getpid(),
                    thread=ThreadPoolExecutor(
                        max_workers=1,
                        thread_name_prefix="broadcast",
                        initializer=leave_signals_to_the_main_thread,
                    ),
                )
    return _background["thread"]


def _hand_over(work: Callable[[], None]) -> None:
    try:
        _broadcast_thread().submit(work)
    except RuntimeError:  # the interpreter is shutting down
        log.warning("dropped a broadcast at shutdown")


def flush(timeout: float = 5.0) -> None:
    """Wait until what was handed to the broadcast thread so far is done
    (tests, shutdown)."""
    if _background.get("pid") == os.getpid():
        _background["thread"].submit(lambda: None).result(timeout)


def _call_each(callbacks: Sequence[Callable[[], None]]) -> None:
    for callback in callbacks:
        try:
            callback()
        except Exception:
            log.exception("a callback after a broadcast failed")


def events_message(events: list[dict]) -> dict:
    return {"type": "order.events", "events": events}


def moves_broadcast(
    moves, *, then: Sequence[Callable[[], None]] = (), after: Sequence[Callable[[], None]] = ()
) -> tuple[Callable[[], None], Callable[[], None]]:
    """What broadcasts the status messages of these moves
    (`orders.services.Move`) to each order's subscribers and to the
    all-orders feed once their transaction commits: (`send`, `follow`), for
    the caller (orders.services.batch) to run first and last of what the
    commit sets going. An order created by the write has no subscriber yet:
    only the feed hears of it.

    `then` runs in `follow`, on the committing thread, so once the messages
    are out: what it sets going (a worker admitting a new order) cannot
    broadcast before them, so the feed keeps each order's statuses in order
    even when another process writes the next one; and whatever it raises
    (Redis down) fails the caller without keeping what came between from
    running. `after` is for the same, without holding up the committing
    thread (a request's): with it, the messages and then `after` go out on
    the broadcast thread, so `after` must need no database."""
    sends = [(order_group(move.order.id), events_message(move.messages)) for move in moves if not move.new]
    feed = [message for move in moves for message in (*move.feed_first, *move.messages)]
    sends.append((ALL_ORDERS_GROUP, events_message(feed)))

    if after and not then:

        def publish_then_after() -> None:
            publish(sends)
            _call_each(after)

        return (lambda: _hand_over(publish_then_after)), nothing

    def follow() -> None:
        for callback in then:
            callback()
        if after:
            _hand_over(lambda: _call_each(after))

    return (lambda: publish(sends)), follow


def nothing() -> None:
    pass
