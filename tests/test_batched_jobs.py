"""A job carries many orders in one transaction: each order's row is written
once however many statuses it passes, and the history of all of them in one
insert."""

import math
import re
import threading
from decimal import Decimal

import pytest
from django.db import OperationalError, connection, connections
from django.test.utils import CaptureQueriesContext
from rq.timeouts import JobTimeoutException

from orders import broadcast, jobs, services
from orders.models import Order, OrderEvent
from routing.models import Pool
from tests.engine import wait_until

LIFECYCLE = ["pending", "routing", "building", "submitted", "confirmed"]


def statements(queries, prefix: str) -> int:
    """How many statements began with prefix; one run for many rows
    (executemany, logged as "N times: ...") counts once."""
    return sum(1 for query in queries if re.sub(r"^\d+ times: ", "", query["sql"]).startswith(prefix))


def place() -> Order:
    """A small market order, SOL to USDC."""
    return services.order_place(amount=Decimal("0.05"), token_in="SOL", token_out="USDC")[0]


@pytest.fixture
def admission_rounds(monkeypatch) -> list:
    """The admission rounds run from here on (the arguments of each)."""
    rounds = []
    admission = services.admission

    def counted(**kwargs):
        rounds.append(kwargs)
        return admission(**kwargs)

    monkeypatch.setattr(services, "admission", counted)
    return rounds


def test_an_admission_job_admits_routes_and_settles_twenty_orders_with_one_update_each(
    market, no_engine, settings
):
    settings.MOCK_QUOTE_LATENCY_MS = (0, 0)
    settings.MOCK_SWAP_LATENCY_MS = (0, 0)
    settings.ORDER_CONCURRENCY = 100
    placed = [place() for _ in range(20)]
    swaps_before = sum(Pool.objects.values_list("swaps_executed", flat=True))

    with CaptureQueriesContext(connection) as captured:
        assert jobs.admit_orders() == 20

    orders = Order.objects.filter(pk__in=[order.pk for order in placed])
    assert sorted(order.status for order in orders) == ["confirmed"] * 20
    for order in orders:
        history = list(OrderEvent.objects.filter(order=order).values_list("status", flat=True))
        assert history == LIFECYCLE
    assert statements(captured, 'UPDATE "orders_order"') == 20
    # One insert of history rows per transaction of INSTANT_BATCH orders.
    assert statements(captured, 'INSERT INTO "orders_orderevent"') == math.ceil(20 / jobs.INSTANT_BATCH)
    assert sum(Pool.objects.values_list("swaps_executed", flat=True)) - swaps_before == 20


def test_an_order_that_breaks_its_batch_fails_alone_and_the_others_go_on(
    market, no_engine, settings, monkeypatch
):
    """An order whose processing raises (a bug) rolls its batch back; the job
    carries the others on one at a time, and fails that one with
    internal_error rather than try it forever."""
    settings.MOCK_QUOTE_LATENCY_MS = (0, 0)
    settings.MOCK_SWAP_LATENCY_MS = (0, 0)
    settings.ORDER_CONCURRENCY = 100
    placed = [place() for _ in range(5)]
    poisoned = placed[2].pk
    original = jobs.execution.route

    def route(move, session):
        if move.order.pk == poisoned:
            raise RuntimeError("a bug in one order's routing")
        return original(move, session)

    monkeypatch.setattr(jobs.execution, "route", route)

    jobs.admit_orders()

    orders = {order.pk: order for order in Order.objects.filter(pk__in=[o.pk for o in placed])}
    failed = orders.pop(poisoned)
    assert (failed.status, failed.error_code) == ("failed", "internal_error")
    assert "nothing was swapped" in failed.error
    assert [order.status for order in orders.values()] == ["confirmed"] * 4


def test_a_job_timed_out_mid_batch_fails_as_a_job_and_fails_no_order(
    market, no_engine, settings, monkeypatch
):
    """rq raises its job timeout once, wherever the job is: carrying the
    orders on one at a time after it would run without a timeout, and the
    order in hand would be failed for the job's time."""
    settings.MOCK_QUOTE_LATENCY_MS = (0, 0)
    settings.MOCK_SWAP_LATENCY_MS = (0, 0)
    settings.ORDER_CONCURRENCY = 100
    placed = [place() for _ in range(3)]
    original = jobs.execution.route

    def route(move, session):
        if move.order.pk == placed[1].pk:
            raise JobTimeoutException("Task exceeded maximum timeout value (30 seconds)")
        return original(move, session)

    monkeypatch.setattr(jobs.execution, "route", route)

    with pytest.raises(JobTimeoutException):
        jobs.admit_orders()

    statuses = Order.objects.filter(pk__in=[o.pk for o in placed]).values_list("status", flat=True)
    assert "failed" not in statuses


def test_a_settlement_that_frees_slots_admits_at_once_and_waits_for_no_placement(
    market, no_engine, settings, monkeypatch
):
    """Only the admission job lingers for the next placement; a settlement job
    has timers queued behind it, so its admission ends as soon as nothing is
    ready (lingering there made every settlement wait half a second)."""
    settings.MOCK_QUOTE_LATENCY_MS = (0, 0)
    settings.MOCK_SWAP_LATENCY_MS = (1, 1)
    order = place()
    jobs.admit_orders(linger=0)  # admitted, routed, submitted; settles in a millisecond
    waits = []
    monkeypatch.setattr(services, "await_placement", lambda timeout: waits.append(timeout) or False)

    jobs.advance_orders(str(order.pk))

    assert Order.objects.get(pk=order.pk).status == "confirmed"
    assert waits == []


def test_a_round_that_found_fewer_orders_than_it_could_take_waits_at_once(
    market, no_engine, settings, monkeypatch, admission_rounds
):
    """Three orders ready and ten slots free: one round admits all three, and
    the job goes straight to waiting for the next placement, without a second
    round that could only find none (at one order a round, that round cost as
    much as the order)."""
    settings.MOCK_QUOTE_LATENCY_MS = (0, 0)
    settings.MOCK_SWAP_LATENCY_MS = (0, 0)
    settings.ORDER_CONCURRENCY = 10
    for _ in range(3):
        place()
    waits = []
    monkeypatch.setattr(services, "await_placement", lambda timeout: waits.append(timeout) or False)

    assert jobs.admit_orders(linger=0.5) == 3

    assert len(admission_rounds) == 1
    assert waits == [0.5]
    assert Order.objects.filter(status="confirmed").count() == 3


def test_the_wait_after_a_round_is_not_ended_by_orders_that_round_admitted(
    market, no_engine, settings, admission_rounds
):
    """Each placement leaves a wake-up in Redis after its commit. The round
    that admits the orders sees them all, so their wake-up must not end the
    wait after it: that would cost a second, empty round per order."""
    settings.MOCK_QUOTE_LATENCY_MS = (0, 0)
    settings.MOCK_SWAP_LATENCY_MS = (0, 0)
    settings.ORDER_CONCURRENCY = 10
    for _ in range(3):
        place()
    broadcast.flush()  # placements ask for admission once their `pending` is out
    assert services.dispatch.redis().llen(services.ORDERS_PLACED) == 1  # the wake-up is there

    assert jobs.admit_orders(linger=0.2) == 3

    assert len(admission_rounds) == 1
    assert Order.objects.filter(status="confirmed").count() == 3


def test_a_settlement_leaves_the_request_of_an_admission_job_at_work_alone(market, no_engine, settings):
    """An admission job waiting for placements keeps the admission request up,
    so that placements wake it rather than queue more jobs. A settlement that
    frees a slot meanwhile admits into it, but must not take that request
    down: every placement after it would queue an admission job of its own."""
    settings.MOCK_QUOTE_LATENCY_MS = (0, 0)
    settings.MOCK_SWAP_LATENCY_MS = (1, 1)
    redis = services.dispatch.redis()
    order = place()
    jobs.admit_orders(linger=0)  # admitted, routed, submitted; settles in a millisecond
    assert not redis.exists(services.ADMISSION_REQUESTED), "the job answered its request"
    services.request_admission()  # an admission job is queued (and waits for placements once at work)

    jobs.advance_orders(str(order.pk))

    assert Order.objects.get(pk=order.pk).status == "confirmed"
    assert redis.exists(services.ADMISSION_REQUESTED), "the settlement took the job's request down"


def test_a_job_that_ended_for_want_of_a_slot_leaves_the_request_to_the_settlement(
    market, no_engine, settings
):
    """With every slot taken the admission job ends and leaves the request up,
    marked as the slots': a settlement that frees one admits into it, and the
    last one, with nothing left to admit, answers it, so that the next
    placement queues a job again."""
    settings.MOCK_QUOTE_LATENCY_MS = (0, 0)
    settings.MOCK_SWAP_LATENCY_MS = (1, 1)
    settings.ORDER_CONCURRENCY = 1
    redis = services.dispatch.redis()
    first = place()
    second = place()

    assert jobs.admit_orders(linger=0) == 1
    assert redis.get(services.ADMISSION_REQUESTED) == b"slot"

    jobs.advance_orders(str(first.pk))

    assert Order.objects.get(pk=first.pk).status == "confirmed"
    assert Order.objects.get(pk=second.pk).status == "submitted"
    assert redis.get(services.ADMISSION_REQUESTED) == b"slot", "the slots are taken again"

    jobs.advance_orders(str(second.pk))

    assert Order.objects.get(pk=second.pk).status == "confirmed"
    assert not redis.exists(services.ADMISSION_REQUESTED)


def test_an_order_that_fails_as_its_quotes_are_asked_for_frees_its_slot_at_once(
    market, no_engine, settings, monkeypatch
):
    """A retried order asks for quotes again in an execute job; if it fails
    there for good, the next pending order is admitted into its slot then,
    not at the next periodic look."""
    settings.MOCK_QUOTE_LATENCY_MS = (0, 0)
    settings.MOCK_SWAP_LATENCY_MS = (0, 0)
    settings.ORDER_CONCURRENCY = 1
    first = place()
    assert [order.pk for order in services.orders_admit(job=True).orders] == [first.pk]
    Order.objects.filter(pk=first.pk).update(attempt=settings.ORDER_MAX_ATTEMPTS)  # its last attempt
    second = place()
    route = jobs.execution.route

    def dex_down_for_the_first(move, session):
        if move.order.pk == first.pk:
            raise jobs.execution.TransientFailure("raydium did not answer", "dex_unavailable")
        return route(move, session)

    monkeypatch.setattr(jobs.execution, "route", dex_down_for_the_first)

    jobs.execute_orders(str(first.pk))

    assert Order.objects.get(pk=first.pk).status == "failed"
    assert Order.objects.get(pk=second.pk).status == "confirmed"


def test_a_settlement_does_not_answer_a_request_queued_after_its_round(
    market, no_engine, settings, monkeypatch
):
    """A settlement that found no request up admits, then answers. If an
    admission job was queued in between (a job handing over, at the end of
    its run), that request is the new job's: taking it down would let the
    next placement queue a second admission job beside it."""
    settings.MOCK_QUOTE_LATENCY_MS = (0, 0)
    settings.MOCK_SWAP_LATENCY_MS = (1, 1)
    redis = services.dispatch.redis()
    order = place()
    jobs.admit_orders(linger=0)
    assert not redis.exists(services.ADMISSION_REQUESTED)
    admit_and_start = jobs._admit_and_start

    def then_a_job_is_queued(**kwargs):
        admission = admit_and_start(**kwargs)
        services.request_admission()
        return admission

    monkeypatch.setattr(jobs, "_admit_and_start", then_a_job_is_queued)

    jobs.advance_orders(str(order.pk))

    assert Order.objects.get(pk=order.pk).status == "confirmed"
    assert redis.get(services.ADMISSION_REQUESTED) == b"queued"


def test_an_admission_job_that_fails_takes_its_request_down(market, no_engine, settings, monkeypatch):
    """Settlements leave a queued job's request alone; if the job fails (the
    database went away), the request must not stay up until it expires, or
    every placement meanwhile would wait for that."""
    settings.MOCK_QUOTE_LATENCY_MS = (0, 0)
    redis = services.dispatch.redis()
    place()
    broadcast.flush()  # the placement's admission request is made once its `pending` is out
    assert redis.get(services.ADMISSION_REQUESTED) == b"queued"

    def database_gone(**kwargs):
        raise OperationalError("unable to open database file")

    monkeypatch.setattr(jobs, "_admit_and_start", database_gone)

    with pytest.raises(OperationalError):
        jobs.admit_orders()

    assert not redis.exists(services.ADMISSION_REQUESTED)


def test_a_job_out_of_time_with_no_free_slot_leaves_the_request_to_the_settlements(
    market, no_engine, settings, monkeypatch
):
    """A job whose run is over hands over to a new job; but with every slot
    taken the request is the settlements', and a new job would only find no
    slot either (or, with a settlement answering meanwhile, run beside a
    second one)."""
    settings.MOCK_QUOTE_LATENCY_MS = (0, 0)
    settings.MOCK_SWAP_LATENCY_MS = (1, 1)
    settings.ORDER_CONCURRENCY = 1
    redis = services.dispatch.redis()
    place()
    jobs.admit_orders(linger=0)  # the one slot is taken: submitted, settling in a millisecond
    redis.delete(services.ADMISSION_REQUESTED)  # (that job left it for the slot)
    place()
    broadcast.flush()
    assert redis.get(services.ADMISSION_REQUESTED) == b"queued"
    monkeypatch.setattr(jobs, "ADMISSION_RUN_SECONDS", 0)
    queued = []
    monkeypatch.setattr(services, "request_admission", lambda: queued.append("job"))

    assert jobs.admit_orders() == 0

    assert redis.get(services.ADMISSION_REQUESTED) == b"slot"
    assert queued == []


def test_the_clocks_look_queues_a_job_for_a_free_slot_that_no_settlement_answered(
    market, no_engine, settings
):
    """A request left for a free slot is a settlement's to answer. If a slot
    is free and none did (its worker died between its commit and its
    admission), the clock's periodic look takes the request down and queues
    a job, instead of leaving the orders waiting for the request to expire."""
    settings.MOCK_QUOTE_LATENCY_MS = (0, 0)
    redis = services.dispatch.redis()
    order = place()
    broadcast.flush()
    redis.set(services.ADMISSION_REQUESTED, "slot", ex=10)  # and every slot free
    jobs_before = services.dispatch.queue().count

    services.admission_looked_after()

    assert redis.get(services.ADMISSION_REQUESTED) == b"queued"
    assert services.dispatch.queue().count == jobs_before + 1
    assert Order.objects.get(pk=order.pk).status == "pending"  # a worker admits it


def test_orders_placed_just_after_the_one_that_woke_admission_join_its_round(
    market, no_engine, settings, admission_rounds
):
    """Woken by a placement, admission waits ADMISSION_GATHER_MS before its
    round: the orders placed meanwhile share it, instead of a round each."""
    settings.MOCK_QUOTE_LATENCY_MS = (0, 0)
    settings.MOCK_SWAP_LATENCY_MS = (0, 0)
    settings.ORDER_CONCURRENCY = 10
    settings.ADMISSION_GATHER_MS = 500  # far more than three placements take
    admitted = []
    job = threading.Thread(target=lambda: admitted.append(jobs.admit_orders(linger=1)))
    job.start()
    try:
        wait_until(lambda: len(admission_rounds) == 1, timeout=10, message="the job's first, empty round")
        for _ in range(3):
            place()
    finally:
        job.join(timeout=30)
        connections.close_all()

    assert admitted == [3]
    assert len(admission_rounds) == 2  # the empty one, then all three together
    assert Order.objects.filter(status="confirmed").count() == 3


def test_a_retry_clears_what_the_last_attempt_chose(market, no_engine, settings, monkeypatch):
    """The next attempt routes from scratch: until it does, the order shows
    no venue, quotes or amounts of the last one."""
    settings.MOCK_QUOTE_LATENCY_MS = settings.MOCK_SWAP_LATENCY_MS = (0, 0)
    order = place()

    def submit_times_out(move):
        raise jobs.execution.TransientFailure("the RPC node did not answer", "dex_unavailable")

    monkeypatch.setattr(jobs.execution, "submit", submit_times_out)

    jobs.admit_orders(linger=0)

    retried = Order.objects.get(pk=order.pk)
    assert (retried.status, retried.attempt) == ("routing", 2)
    assert (retried.dex, retried.quotes, retried.route) == ("", [], {})
    assert retried.expected_amount_out is None and retried.min_amount_out is None
