"""Broadcasting order events to WebSocket subscribers through the channel layer.

A worker must not pay `async_to_sync(group_send)` per event: each call spins a
new thread, event loop and Redis connection (about 3.5 ms). Instead each
process keeps one event loop in a background thread with its own channel
layer, and one task that sends events in the order they were published, so a
subscriber sees an order's statuses in sequence. Sends are at-most-once, as
group sends are anyway; clients resync from the snapshot or REST.
"""

import asyncio
import logging
import os
import threading

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

    def _ensure_started(self) -> None:
        # A forked child inherits the attributes but not the thread: start anew.
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            ready = threading.Event()
            self._loop = asyncio.new_event_loop()
            thread = threading.Thread(target=self._run, args=(ready,), name="broadcast", daemon=True)
            thread.start()
            ready.wait()
            self._pid = os.getpid()

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._outbox = asyncio.Queue()
        self._loop.create_task(self._drain())
        ready.set()
        self._loop.run_forever()

    async def _drain(self) -> None:
        # Its own layer instance: channels_redis pools belong to the loop that
        # made them, and daphne's consumers use the shared one on their loop.
        layer = channel_layers.make_backend("default")
        while True:
            groups, message = await self._outbox.get()
            for group in groups:
                try:
                    await layer.group_send(group, message)
                except Exception:
                    log.exception("broadcast to %s failed", group)
            self._outbox.task_done()

    def publish(self, groups: list[str], message: dict) -> None:
        self._ensure_started()
        self._loop.call_soon_threadsafe(self._outbox.put_nowait, (groups, message))

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until everything published so far has been sent (tests, shutdown)."""
        if self._pid != os.getpid():
            return
        future = asyncio.run_coroutine_threadsafe(self._outbox.join(), self._loop)
        future.result(timeout)


broadcaster = _Broadcaster()


def send_event_on_commit(order_id, event: dict) -> None:
    """Broadcast `event` to the order's subscribers and the all-orders feed once
    the current transaction commits; a rolled-back write broadcasts nothing."""
    groups = [order_group(order_id), ALL_ORDERS_GROUP]
    message = {"type": "order.event", "event": event}
    transaction.on_commit(lambda: broadcaster.publish(groups, message))
