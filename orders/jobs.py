"""rq jobs: thin. Fetch the order, do the step its status calls for, record it
through the services, and leave delayed work to the clock's timers.

Every job is re-entrant: run it twice, or again after a worker died half-way,
and the conditional transitions let exactly one run move the order.
"""

import logging
import time

from django.conf import settings
from django.db import transaction

from orders import dispatch, execution, services
from orders.logcontext import with_order_id
from orders.models import Order, OrderStatus

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
    """Route, build and submit the order, from wherever it stands."""
    order = _load(order_id)
    if order is None or order.is_terminal:
        return
    try:
        if order.status == OrderStatus.ROUTING and not execution.route(order):
            return
        if order.status == OrderStatus.BUILDING and not execution.submit(order):
            return
    except execution.TransientFailure as failure:
        _retry_or_fail(order, failure)
        return
    if order.status == OrderStatus.SUBMITTED:
        dispatch.enqueue_at("settle_order", order.id, order.settles_at.timestamp())


@with_order_id
def settle_order(order_id: str) -> None:
    """The submitted transaction lands: swap against the pools as they are now."""
    order = _load(order_id)
    if order is None or order.status != OrderStatus.SUBMITTED:
        return
    if order.settles_at and order.settles_at.timestamp() > time.time() + 0.05:
        # Released early (a resumed order, or clocks apart): wait for the chain.
        dispatch.enqueue_at("settle_order", order.id, order.settles_at.timestamp())
        return
    try:
        execution.settle(order)
    except execution.TransientFailure as failure:
        _retry_or_fail(order, failure)
        return
    services.orders_admit()


def _retry_or_fail(order: Order, failure: "execution.TransientFailure") -> None:
    """Retry policy: exponential back-off, at most ORDER_MAX_ATTEMPTS in all."""
    if order.attempt >= settings.ORDER_MAX_ATTEMPTS:
        services.order_fail(
            order=order,
            error=f"{failure} (gave up after {order.attempt} attempts)",
            code=failure.code,
        )
        services.orders_admit()
        return
    if services.order_retry(order=order, error=str(failure)):
        backoff = settings.ORDER_RETRY_BACKOFF_SECONDS * 2 ** (order.attempt - 2)
        log.info("order %s attempt %s after %.2fs: %s", order.id, order.attempt, backoff, failure)
        transaction.on_commit(lambda: dispatch.enqueue_at("execute_order", order.id, time.time() + backoff))
