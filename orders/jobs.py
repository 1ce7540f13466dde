"""rq jobs: thin. Fetch the order, do the step its status calls for, record it
through the services, and leave every wait to the clock's timers.

An order's jobs: `execute_order` (admitted; waits for the DEXes' quotes on a
timer), `route_order` (quotes in: route, build, submit), `settle_order` (the
chain confirms). With zero latencies they run as one job. Every job is
re-entrant: run it twice, or again after a worker died half-way, and the
conditional transitions let exactly one run move the order.
"""

import logging
import time

from django.conf import settings
from django.db import transaction

from orders import dispatch, execution, services
from orders.logcontext import with_order_id
from orders.models import Order, OrderStatus
from routing import mock

log = logging.getLogger(__name__)


def _load(order_id: str) -> Order | None:
    order = Order.objects.filter(pk=order_id).first()
    if order is None:
        log.warning("order %s vanished before its job ran", order_id)
    return order


def admit_orders() -> int:
    return services.orders_admit()


@with_order_id
def execute_order(order_id: str) -> None:
    """Carry the order on from wherever it stands. In routing, the quotes
    take MOCK_QUOTE_LATENCY_MS to come back: a timer, not a busy worker."""
    order = _load(order_id)
    if order is None or order.is_terminal:
        return
    if order.status == OrderStatus.ROUTING:
        delay = mock.quote_latency_seconds()
        if delay > 0:
            dispatch.enqueue_at("route_order", order.id, time.time() + delay)
            return
    _advance(order)


@with_order_id
def route_order(order_id: str) -> None:
    """Both DEXes have answered: route, build and submit."""
    order = _load(order_id)
    if order is None or order.is_terminal:
        return
    _advance(order)


@with_order_id
def settle_order(order_id: str) -> None:
    """The submitted transaction lands: swap against the pools as they are now."""
    order = _load(order_id)
    if order is None or order.status != OrderStatus.SUBMITTED:
        return
    _advance(order)


def _advance(order: Order) -> None:
    try:
        if order.status == OrderStatus.ROUTING and not execution.route(order):
            return _after_terminal(order)
        if order.status == OrderStatus.BUILDING and not execution.submit(order):
            return _after_terminal(order)
        if order.status == OrderStatus.SUBMITTED:
            due = order.settles_at.timestamp()
            if due > time.time() + 0.005:
                # Not landed yet (or released early): wait for the chain.
                dispatch.enqueue_at("settle_order", order.id, due)
                return
            execution.settle(order)
    except execution.TransientFailure as failure:
        _retry_or_fail(order, failure)
    _after_terminal(order)


def _after_terminal(order: Order) -> None:
    """An order that ended frees its slot: admit the next one now."""
    if order.is_terminal:
        services.orders_admit()


def _retry_or_fail(order: Order, failure: "execution.TransientFailure") -> None:
    """Retry policy: exponential back-off, at most ORDER_MAX_ATTEMPTS in all."""
    if order.attempt >= settings.ORDER_MAX_ATTEMPTS:
        services.order_fail(
            order=order,
            error=f"{failure} (gave up after {order.attempt} attempts)",
            code=failure.code,
        )
        return
    if services.order_retry(order=order, error=str(failure)):
        backoff = settings.ORDER_RETRY_BACKOFF_SECONDS * 2 ** (order.attempt - 2)
        log.info("order %s attempt %s after %.2fs: %s", order.id, order.attempt, backoff, failure)
        transaction.on_commit(lambda: dispatch.enqueue_at("execute_order", order.id, time.time() + backoff))
