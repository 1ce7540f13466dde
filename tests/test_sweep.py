"""The clock's sweep resumes orders whose work was lost, and only those: an
order waiting on a timer (a quote's latency, a retry's back-off) longer than
ORDER_STALL_SECONDS is waiting, not stalled."""

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from orders import dispatch, recovery
from orders.models import Order, OrderStatus


@pytest.fixture
def stalled_order(db, no_engine):
    order = Order.objects.create(
        token_in="SOL", token_out="USDC", amount=Decimal(1), status=OrderStatus.ROUTING
    )
    Order.objects.filter(pk=order.pk).update(updated_at=timezone.now() - timedelta(minutes=1))
    yield order
    dispatch.redis().zrem(dispatch.TIMERS_KEY, f"advance_orders:{order.id}", f"execute_orders:{order.id}")
    dispatch.queue().empty()


def test_an_order_whose_row_has_not_moved_and_that_waits_on_nothing_is_resumed(stalled_order):
    assert recovery.sweep() == 1


@pytest.mark.parametrize("job", ["advance_orders", "execute_orders"])
def test_an_order_waiting_on_a_timer_is_left_to_it(stalled_order, job):
    due = time.time() + 30
    dispatch.enqueue_at(job, {stalled_order.id: due})

    assert recovery.sweep() == 0
    assert dispatch.redis().zscore(dispatch.TIMERS_KEY, f"{job}:{stalled_order.id}") == pytest.approx(due)


def test_an_order_whose_timer_is_overdue_is_resumed(stalled_order):
    """The clock that would release it is down, or Redis lost it and an old copy came back."""
    dispatch.redis().zadd(dispatch.TIMERS_KEY, {f"advance_orders:{stalled_order.id}": time.time() - 60})

    assert recovery.sweep() == 1
