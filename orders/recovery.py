"""Finding orders whose work was lost, and handing it back to the queue.

Work is lost when a worker dies mid-job (SIGKILL, OOM, a deploy), when Redis
restarts and forgets its queue and timers, or when Redis was down as an order
was placed. rq would notice a dead worker's job only after 600 s; instead the
clock calls `sweep()` every few seconds and re-enqueues any order whose row
has not moved for ORDER_STALL_SECONDS. Jobs are re-entrant, so a re-run of
work that was merely slow costs a little time and never a second swap.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from orders import dispatch
from orders.models import Order, OrderStatus

log = logging.getLogger(__name__)

# Grace after a swap's due time before its settlement counts as lost.
SETTLE_GRACE = timedelta(seconds=5)


def sweep() -> int:
    now = timezone.now()
    stalled_before = now - timedelta(seconds=settings.ORDER_STALL_SECONDS)
    stuck = Order.objects.filter(
        status__in=(OrderStatus.ROUTING, OrderStatus.BUILDING), updated_at__lt=stalled_before
    )
    unsettled = Order.objects.filter(
        status=OrderStatus.SUBMITTED, settles_at__lt=now - SETTLE_GRACE, updated_at__lt=stalled_before
    )
    resumed = _resume(stuck, now, "stalled in {status}; resuming it", "execute_orders")
    return resumed + _resume(unsettled, now, "missed its settlement; settling it now", "advance_orders")


def _resume(orders, now, why: str, job: str) -> int:
    resumed = []
    orders = list(orders.only("id", "status", "attempt"))
    # A quote's latency or a retry's back-off can be longer than
    # ORDER_STALL_SECONDS: resumed early, the order would start that wait over.
    timed = dispatch.waiting_on_a_timer([str(order.id) for order in orders])
    for order in orders:
        if str(order.id) in timed:
            continue
        # Touch the row so that the next sweep gives this run time to work.
        if Order.objects.filter(pk=order.pk, status=order.status, attempt=order.attempt).update(
            updated_at=now
        ):
            log.warning("order %s %s", order.id, why.format(status=order.status))
            resumed.append(order.id)
    dispatch.enqueue(job, resumed)
    return len(resumed)
