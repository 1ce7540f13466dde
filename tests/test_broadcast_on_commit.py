"""Status changes are broadcast only once their transaction commits."""

import asyncio
import threading
from decimal import Decimal

import pytest
from channels.layers import channel_layers
from django.db import transaction
from django.db.models import F

from orders import broadcast, jobs, services
from orders.broadcast import ALL_ORDERS_GROUP
from orders.models import Order, OrderStatus
from routing.signals import announce_on_commit, pools_changed


class Subscriber:
    """A real channel-layer subscriber to the all-orders group, on its own loop.

    Like a consumer, it keeps one receive() waiting across next_event()
    calls: a receive() cancelled means a consumer that stopped, whose
    channel the layer drops."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.layer = channel_layers.make_backend("default")
        self.channel = self.loop.run_until_complete(self.layer.new_channel())
        self.loop.run_until_complete(self.layer.group_add(ALL_ORDERS_GROUP, self.channel))
        self.receiving = self.loop.create_task(self.layer.receive(self.channel))

    def next_event(self, timeout: float) -> dict | None:
        done, _ = self.loop.run_until_complete(asyncio.wait([self.receiving], timeout=timeout))
        if not done:
            return None
        message = self.receiving.result()
        self.receiving = self.loop.create_task(self.layer.receive(self.channel))
        (event,) = message["events"]
        return event

    def close(self):
        self.receiving.cancel()
        self.loop.run_until_complete(self.layer.group_discard(ALL_ORDERS_GROUP, self.channel))
        self.loop.run_until_complete(self.layer.flush())
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
def test_a_batch_broadcasts_its_statuses_before_the_pools_it_moved_are_announced(subscriber):
    # The announcement starts the trigger checks of every order waiting on
    # the pair; a process killed during them had sent no status at all.
    order = _order()
    heard_by_then = []

    def on_pools_changed(sender, pairs, **kwargs):
        heard_by_then.append(subscriber.next_event(timeout=5))

    pools_changed.connect(on_pools_changed)
    try:
        with services.batch() as moves:
            announce_on_commit({("SOL", "USDC")})  # as a settlement's session.save() does, mid-batch
            move = services.Move(order)
            move.reach(OrderStatus.ROUTING)
            moves.claim(move)
    finally:
        pools_changed.disconnect(on_pools_changed)

    assert [event and event["status"] for event in heard_by_then] == ["routing"]


@pytest.mark.django_db(transaction=True)
def test_what_a_batch_sets_going_fails_last_and_keeps_nothing_else_from_running(subscriber):
    # Scheduling a job's timers fails (Redis went away): the job fails, but
    # the pools it moved are still announced and its statuses still out.
    from redis.exceptions import ConnectionError as RedisConnectionError

    order = _order()
    announced = []

    def on_pools_changed(sender, pairs, **kwargs):
        announced.append(pairs)

    def schedule_timers():
        raise RedisConnectionError("Redis went away")

    pools_changed.connect(on_pools_changed)
    try:
        with pytest.raises(RedisConnectionError), services.batch() as moves:
            move = services.Move(order)
            move.reach(OrderStatus.ROUTING)
            moves.claim(move)
            announce_on_commit({("SOL", "USDC")})
            moves.then(schedule_timers)
    finally:
        pools_changed.disconnect(on_pools_changed)

    assert announced == [frozenset({("SOL", "USDC")})]
    assert subscriber.next_event(timeout=5)["status"] == "routing"


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
def broadcasts(monkeypatch) -> list:
    """Records each broadcast as ("sent", group, statuses) once it is out."""
    happened = []
    publish = broadcast.publish

    def recorded(sends):
        publish(sends)
        for group, message in sends:
            happened.append(("sent", group, [event["status"] for event in message["events"]]))

    monkeypatch.setattr(broadcast, "publish", recorded)
    return happened


def test_a_placement_wakes_admission_only_once_its_pending_is_out(
    market, no_engine, subscriber, broadcasts, monkeypatch
):
    """A worker woken at the commit could admit the order and broadcast
    `routing` before this process sent `pending`: the feed would show an
    order's statuses out of order. Admission is requested once `pending` is
    out, and the placement (a POST) does not wait for either."""
    happened = broadcasts
    monkeypatch.setattr(services, "request_admission", lambda: happened.append(("admission requested",)))
    redis_answers = threading.Event()  # until set, a broadcast waits as on a busy Redis
    recorded = broadcast.publish
    monkeypatch.setattr(broadcast, "publish", lambda sends: (redis_answers.wait(5), recorded(sends)))

    order, _ = services.order_place(amount=Decimal("0.05"), token_in="SOL", token_out="USDC")

    assert happened == [], "the placement waited for its broadcast"
    redis_answers.set()
    broadcast.flush()
    assert happened == [("sent", ALL_ORDERS_GROUP, ["pending"]), ("admission requested",)]
    event = subscriber.next_event(timeout=2)
    assert (event["orderId"], event["status"]) == (str(order.pk), "pending")


def test_a_job_schedules_its_follow_ups_once_its_statuses_are_out(
    market, no_engine, subscriber, broadcasts, monkeypatch, settings
):
    """A settlement timer can be due at once and run on another worker, which
    would broadcast `confirmed` before this worker's `submitted` had gone out."""
    settings.MOCK_QUOTE_LATENCY_MS = (0, 0)
    settings.MOCK_SWAP_LATENCY_MS = (1, 1)
    monkeypatch.setattr(services, "request_admission", lambda: None)
    order, _ = services.order_place(amount=Decimal("0.05"), token_in="SOL", token_out="USDC")
    broadcast.flush()
    happened = broadcasts
    happened.clear()  # the placement's own `pending`
    enqueue_at = jobs.dispatch.enqueue_at
    monkeypatch.setattr(
        jobs.dispatch, "enqueue_at", lambda job, due: happened.append(("timer", job)) or enqueue_at(job, due)
    )

    jobs.admit_orders(linger=0)

    assert Order.objects.get(pk=order.pk).status == OrderStatus.SUBMITTED
    statuses = ["routing", "building", "submitted"]
    # The feed gets the order's `pending` again first, in case the round got
    # ahead of the placement's broadcast (services.Move.admit).
    assert happened == [
        ("sent", f"order.{order.pk}", statuses),
        ("sent", ALL_ORDERS_GROUP, ["pending", *statuses]),
        ("timer", "advance_orders"),
    ]


def test_an_order_that_waited_for_a_slot_is_not_sent_to_the_feed_again(
    market, no_engine, broadcasts, monkeypatch, settings
):
    """Its placement's `pending` went out long before: the round's message
    to the feed starts at `routing`."""
    settings.MOCK_QUOTE_LATENCY_MS = settings.MOCK_SWAP_LATENCY_MS = (0, 0)
    monkeypatch.setattr(services, "request_admission", lambda: None)
    order, _ = services.order_place(amount=Decimal("0.05"), token_in="SOL", token_out="USDC")
    broadcast.flush()
    Order.objects.filter(pk=order.pk).update(updated_at=F("updated_at") - services.PLACEMENT_BROADCAST_LAG)
    broadcasts.clear()

    jobs.admit_orders(linger=0)

    assert ("sent", ALL_ORDERS_GROUP, ["routing", "building", "submitted", "confirmed"]) in broadcasts


@pytest.mark.django_db(transaction=True)
def test_a_broadcast_redis_refuses_is_logged_and_the_write_stands(subscriber, caplog, monkeypatch, settings):
    """Redis gone: the committed status stays committed and the write's
    caller goes on; the socket's snapshot will show it."""
    layer = channel_layers["default"]
    monkeypatch.setattr(layer, "group_host", {**layer.group_host, "address": "redis://127.0.0.1:1/0"})
    order = _order()

    with caplog.at_level("WARNING", logger="orders.broadcast"):
        assert services.order_transition(order=order, to=OrderStatus.ROUTING)

    assert Order.objects.get(pk=order.pk).status == OrderStatus.ROUTING
    assert any("broadcast to" in record.getMessage() for record in caplog.records)
    assert subscriber.next_event(timeout=0.3) is None


def test_a_cancel_straight_after_the_placement_sends_the_feed_its_pending_first(
    market, no_engine, broadcasts, monkeypatch
):
    """The placement's `pending` goes out from its web process's broadcast
    thread; a cancel that commits first must not reach the feed ahead of it."""
    monkeypatch.setattr(services, "request_admission", lambda: None)
    order, _ = services.order_place(amount=Decimal("0.05"), token_in="SOL", token_out="USDC")
    broadcast.flush()
    broadcasts.clear()

    assert services.order_cancel(order=Order.objects.get(pk=order.pk))

    assert broadcasts == [
        ("sent", f"order.{order.pk}", ["cancelled"]),
        ("sent", ALL_ORDERS_GROUP, ["pending", "cancelled"]),
    ]


@pytest.mark.django_db(transaction=True)
def test_rqs_job_timeout_is_not_swallowed_by_a_broadcast_or_a_trigger_check(monkeypatch):
    # rq raises it once, in whatever the job is doing; caught and logged,
    # the job would run on with no timeout at all.
    from rq.timeouts import JobTimeoutException

    from orders import triggers

    def times_out(*args, **kwargs):
        raise JobTimeoutException("the job's time is up")

    monkeypatch.setattr(channel_layers[broadcast.DEFAULT_CHANNEL_LAYER], "group_send_many_sync", times_out)
    with pytest.raises(JobTimeoutException):
        broadcast.publish([(ALL_ORDERS_GROUP, broadcast.events_message([]))])

    monkeypatch.setattr(triggers.someone_waits_on, "exists", times_out)
    with pytest.raises(JobTimeoutException):
        triggers.check_pairs([("SOL", "USDC")])
