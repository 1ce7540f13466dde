"""Broadcasting order events to WebSocket subscribers through the channel layer.

What goes out is one `order.events` message per order per write, carrying
the statuses that write reached (a job that routes, submits and confirms an
order in one transaction sends one message with three), and one message to
the all-orders feed for the whole write. Consumers unpack them.

A worker must not pay `async_to_sync(group_send)` per event: each call spins a
new thread, event loop and Redis connection (about 3.5 ms). Instead each
process keeps one event loop in a background thread with its own channel
layer, and one task that sends events in the order they were published, so a
subscriber sees an order's statuses in sequence. Sends are at-most-once, as
group sends are anyway; clients resync from the snapshot or REST.
"""

import asyncio
import concurrent.futures
import logging
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from channels.layers import channel_layers
from django.db import transaction

log = logging.getLogger(__name__)

ALL_ORDERS_GROUP = "orders.all"


def order_group(order_id) -> str:
    return f"order.{order_id}"


class _Broadcaster:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._outbox: asyncio.Queue | None = None
        self._layer = None
        self._after_sends: ThreadPoolExecutor | None = None

    def _ensure_started(self) -> None:
        # A forked child inherits the attributes but not the thread: start anew.
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            ready = threading.Event()
            self._loop = asyncio.new_event_loop()
            # One thread, so callbacks run in the order their sends went out.
            self._after_sends = ThreadPoolExecutor(max_workers=1, thread_name_prefix="after-broadcast")
            thread = threading.Thread(target=self._run, args=(ready,), name="broadcast", daemon=True)
            thread.start()
            ready.wait()
            self._pid = os.getpid()

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        # Its own layer instance: channels_redis pools belong to the loop that
        # made them, and daphne's consumers use the shared one on their loop.
        self._layer = channel_layers.make_backend("default")
        self._outbox = asyncio.Queue()
        self._loop.create_task(self._drain())
        ready.set()
        self._loop.run_forever()

    async def _drain(self) -> None:
        while True:
            sends, sent, after = await self._outbox.get()
            try:
                # One PUBLISH for the write's messages (config/channel_layer.py).
                await self._layer.group_send_many(sends)
            except Exception:
                log.exception("broadcast to %s failed", ", ".join(group for group, _ in sends))
            sent.set_result(None)
            if after:
                try:
                    self._after_sends.submit(_call_each, after)
                except RuntimeError:  # the interpreter is shutting down
                    log.warning("dropped %d callbacks after a broadcast at shutdown", len(after))
            self._outbox.task_done()

    def publish(
        self, sends: list[tuple[str, dict]], *, after: Sequence[Callable[[], None]] = ()
    ) -> concurrent.futures.Future:
        """Send each (group, message), in order, from this process's loop; the
        future is done once they are out. `after` is called then, on the
        broadcaster's after-send thread (one, so in order), so that the
        publishing thread need not wait. Nothing bounds that wait: a send
        that hangs holds back the callbacks behind it (the clock's periodic
        admission covers a placement's)."""
        self._ensure_started()
        sent = concurrent.futures.Future()
        self._loop.call_soon_threadsafe(self._outbox.put_nowait, (sends, sent, tuple(after)))
        return sent

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until everything published so far has been sent, and its
        `after` callbacks have run (tests, shutdown)."""
        if self._pid != os.getpid():
            return
        future = asyncio.run_coroutine_threadsafe(self._outbox.join(), self._loop)
        future.result(timeout)
        self._after_sends.submit(lambda: None).result(timeout)


def _call_each(callbacks: Sequence[Callable[[], None]]) -> None:
    for callback in callbacks:
        try:
            callback()
        except Exception:
            log.exception("a callback after a broadcast failed")


broadcaster = _Broadcaster()


def events_message(events: list[dict]) -> dict:
    return {"type": "order.events", "events": events}


# How long `then` callbacks wait for the broadcast before they run anyway.
THEN_WAIT_SECONDS = 1.0


def send_moves_on_commit(
    moves, *, then: Sequence[Callable[[], None]] = (), after: Sequence[Callable[[], None]] = ()
) -> None:
    """Broadcast the status messages of these moves (`orders.services.Move`)
    to each order's subscribers and to the all-orders feed once the current
    transaction commits; a rolled-back write broadcasts nothing. An order
    created by the write has no subscriber yet: only the feed hears of it.

    `then` runs after the commit, on the committing thread, once the
    messages are out: what it sets going (a worker admitting a new order)
    cannot broadcast before them, so the feed keeps each order's statuses in
    order even when another process writes the next one. `after` is for
    the same, without holding up the committing thread (a request's): it
    runs on the broadcaster's after-send thread, so it must need no database."""
    sends = [(order_group(move.order.id), events_message(move.messages)) for move in moves if not move.new]
    sends.append((ALL_ORDERS_GROUP, events_message([m for move in moves for m in move.messages])))

    def broadcast() -> None:
        sent = broadcaster.publish(sends, after=after)
        if not then:
            return
        try:
            sent.result(THEN_WAIT_SECONDS)
        except concurrent.futures.TimeoutError:
            log.warning("broadcast still pending after %.1fs; going on", THEN_WAIT_SECONDS)
        for callback in then:
            callback()

    transaction.on_commit(broadcast)
