"""Statuses sent to the dashboards' all-orders feed by the test itself, as
the engine would send them: for orders the engine never had, or news a page
missed."""

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from orders.broadcast import ALL_ORDERS_GROUP, events_message


def feed_status(order_id: str, status: str, at: datetime, **fields) -> dict:
    return {
        "type": "status",
        "orderId": order_id,
        "status": status,
        "at": at.isoformat().replace("+00:00", "Z"),
        "attempt": 1,
        "orderType": "market",
        "tokenIn": "SOL",
        "tokenOut": "USDC",
        "amount": "0.25",
        **fields,
    }


def send_to_the_feed(messages: list[dict]) -> None:
    # On a thread of its own: Playwright's sync API keeps an event loop on this one.
    with ThreadPoolExecutor(1) as thread:
        send = async_to_sync(get_channel_layer().group_send)
        thread.submit(send, ALL_ORDERS_GROUP, events_message(messages)).result()
