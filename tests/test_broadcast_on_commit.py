"""Status changes are broadcast only once their transaction commits."""

import asyncio
from decimal import Decimal

import pytest
from channels.layers import channel_layers
from django.db import transaction

from orders import jobs, services
from orders.broadcast import ALL_ORDERS_GROUP, broadcaster
from orders.models import Order, OrderStatus


class Subscriber:
    """A real channel-layer subscriber to the all-orders group, on its own loop."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.layer = channel_layers.make_backend("default")
        self.channel = self.loop.run_until_complete(self.layer.new_channel())
        self.loop.run_until_complete(self.layer.group_add(ALL_ORDERS_GROUP, self.channel))

    def next_event(self, timeout: float) -> dict | None:
        try:
            message = self.loop.run_until_complete(
                asyncio.wait_for(self.layer.receive(self.channel), timeout)
            )
        except TimeoutError:
            return None
        (event,) = message["events"]
        return event

    def close(self):
        self.loop.run_until_complete(self.layer.group_discard(ALL_ORDERS_GROUP, self.channel))
        self.loop.close()


@pytest.fixture
def subscriber():
    subscriber = Subscriber()
    yield subscriber
    subscriber.close()


def _order() -> Order:
    return Order.objects.create(token_in="SOL", token_out="USDC", amount=Decimal("1"))


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transition_broadcasts_nothing(subscriber):
    order = _order()

    with pytest.raises(RuntimeError), transaction.atomic():
        assert services.order_transition(order=order, to=OrderStatus.ROUTING)
        raise RuntimeError("the job failed after the transition")

    broadcaster.flush()
    assert subscriber.next_event(timeout=0.5) is None
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING
    assert not Order.objects.get(pk=order.pk).events.exists()


@pytest.mark.django_db(transaction=True)
def test_a_committed_transition_is_broadcast_with_its_fields(subscriber):
    order = _order()

    with transaction.atomic():
        services.order_transition(order=order, to=OrderStatus.ROUTING)
        assert subscriber.next_event(timeout=0.3) is None, "broadcast before commit"

    event = subscriber.next_event(timeout=5)
    assert event["type"] == "status" and event["orderId"] == str(order.id)
    assert event["status"] == "routing" and event["attempt"] == 1


@pytest.mark.django_db(transaction=True)
def test_a_stale_copy_of_an_order_cannot_move_it_twice(subscriber):
    order = _order()
    first, second = Order.objects.get(pk=order.pk), Order.objects.get(pk=order.pk)

    assert services.order_transition(order=first, to=OrderStatus.ROUTING)
    assert not services.order_transition(order=second, to=OrderStatus.ROUTING)

    assert list(Order.objects.get(pk=order.pk).events.values_list("status", flat=True)) == ["routing"]
    assert subscriber.next_event(timeout=5)["status"] == "routing"
    assert subscriber.next_event(timeout=0.3) is None


@pytest.mark.django_db(transaction=True)
def test_statuses_never_move_backwards_or_leave_a_terminal_state():
    order = _order()
    services.order_transition(order=order, to=OrderStatus.ROUTING)

    with pytest.raises(ValueError):
        services.order_transition(order=order, to=OrderStatus.PENDING)
    assert services.order_fail(order=order, error="no pool", code="no_route")
    with pytest.raises(ValueError):
        services.order_transition(order=order, to=OrderStatus.CONFIRMED)
    assert not services.order_fail(order=order, error="again", code="no_route")
    assert Order.objects.get(pk=order.pk).status == OrderStatus.FAILED


@pytest.fixture
def late_broadcasts(monkeypatch) -> list:
    """This process's broadcast thread sends 200 ms late, as in a busy process
    (it waits for the GIL behind the request or job threads). Returns the
    list it records each send in, as ("sent", group, statuses), once sent."""
    happened = []
    broadcaster._ensure_started()
    layer = broadcaster._layer
    send_many = layer.group_send_many

    async def late_send(sends):
        await asyncio.sleep(0.2)
        await send_many(sends)
        for group, message in sends:
            happened.append(("sent", group, [event["status"] for event in message["events"]]))

    monkeypatch.setattr(layer, "group_send_many", late_send)
    return happened


def test_a_placement_wakes_admission_only_once_its_pending_is_out(
    market, no_engine, subscriber, late_broadcasts, monkeypatch
):
    """A worker woken at the commit could admit the order and broadcast
    `routing` before this process's broadcast thread sent `pending`: the feed
    would show an order's statuses out of order. Admission is requested once
    `pending` is out, and the placement (a POST) does not wait for that."""
    happened = late_broadcasts
    monkeypatch.setattr(services, "request_admission", lambda: happened.append(("admission requested",)))

    order, _ = services.order_place(amount=Decimal("0.05"), token_in="SOL", token_out="USDC")

    assert happened == [], "the placement waited for its broadcast"
    broadcaster.flush()
    assert happened == [("sent", ALL_ORDERS_GROUP, ["pending"]), ("admission requested",)]
    event = subscriber.next_event(timeout=2)
    assert (event["orderId"], event["status"]) == (str(order.pk), "pending")


def test_a_job_schedules_its_follow_ups_once_its_statuses_are_out(
    market, no_engine, subscriber, late_broadcasts, monkeypatch, settings
):
    """A settlement timer can be due at once and run on another worker, which
    would broadcast `confirmed` before this worker's `submitted` had gone out."""
    settings.MOCK_QUOTE_LATENCY_MS = (0, 0)
    settings.MOCK_SWAP_LATENCY_MS = (1, 1)
    monkeypatch.setattr(services, "request_admission", lambda: None)
    order, _ = services.order_place(amount=Decimal("0.05"), token_in="SOL", token_out="USDC")
    happened = late_broadcasts
    broadcaster.flush()
    happened.clear()  # the placement's own `pending`
    enqueue_at = jobs.dispatch.enqueue_at
    monkeypatch.setattr(
        jobs.dispatch, "enqueue_at", lambda job, due: happened.append(("timer", job)) or enqueue_at(job, due)
    )

    jobs.admit_orders(linger=0)

    assert Order.objects.get(pk=order.pk).status == OrderStatus.SUBMITTED
    statuses = ["routing", "building", "submitted"]
    assert happened == [
        ("sent", f"order.{order.pk}", statuses),
        ("sent", ALL_ORDERS_GROUP, statuses),
        ("timer", "advance_orders"),
    ]
