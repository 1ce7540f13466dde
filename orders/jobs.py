"""rq jobs: thin. Load the orders, do the steps their status calls for, record
them through the services, and leave every wait to the clock's timers.

A job carries many orders (their ids are its arguments) and does their work
in one transaction, on pools read once (routing.session): one row update per
order and one insert of history rows, however many statuses each passed.

- `admit_orders()`: admit pending orders into free slots and carry them on;
  while orders wait and slots free up, go on for ADMISSION_RUN_SECONDS.
- `execute_orders(*ids)`: admitted (or resumed, or retried): in routing they
  ask both DEXes for quotes, which take MOCK_QUOTE_LATENCY_MS to come back:
  a timer, not a busy worker. With zero latency they go straight on.
- `advance_orders(*ids)`: the quotes are in, or the chain landed: route,
  build and submit; settle what is due.

Every job is re-entrant: run it twice, or again after a worker died half-way,
and the conditional row updates let exactly one run move an order.
"""

import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone
from redis.exceptions import RedisError
from rq.timeouts import BaseTimeoutException

from orders import dispatch, execution, services
from orders.logcontext import order_context
from orders.models import Order, OrderStatus
from orders.services import Move, retry_resets
from routing import mock
from routing.session import MarketSession
from routing.tokens import resolve_token

log = logging.getLogger(__name__)

# How long one admission job goes on admitting while orders wait; then it
# hands over to a new job, so that the queue's other work gets a turn.
ADMISSION_RUN_SECONDS = 2.0
# Orders admitted and executed in one transaction when quotes are instant:
# their statuses go out when it commits, so more would make them wait longer.
INSTANT_BATCH = 10
# How long an admission job with nothing to admit waits for the next order.
ADMISSION_LINGER_SECONDS = 0.5
# A transaction due this soon is settled now rather than put on a timer.
SETTLE_EARLY = timedelta(milliseconds=5)


def _load(order_ids) -> list[Order]:
    orders = list(Order.objects.filter(pk__in=order_ids).order_by("created_at"))
    if len(orders) < len(set(order_ids)):
        log.warning(
            "%d of %d orders vanished before their job ran", len(order_ids) - len(orders), len(order_ids)
        )
    return orders


def admit_orders(*, linger: float = ADMISSION_LINGER_SECONDS, job: bool = True) -> int:
    """Admit orders into free slots and start them, while any wait.

    The admission request stays up while this runs, so placements meanwhile
    only look at it (and wake the job). Out of orders, the job waits `linger`
    seconds for the next one rather than end: a job per order, when they come
    one at a time, cost more than the orders. Woken, it waits
    ADMISSION_GATHER_MS more before its round, for the orders placed just
    after the one that woke it. (It waits straight after a round
    that found fewer orders than it could take: one placed since has woken it
    already.) Then it takes the request down
    and looks once more, for an order placed in between. With no free slot,
    it leaves the request up: whatever frees a slot admits next.

    `job=False`: not the admission job that a request queued, but a
    settlement admitting into the slots it freed. It answers only a request
    that a job left for a free slot, never a queued job's: that request is
    what keeps each placement from queuing another, and two admission jobs
    waiting for placements would hold both of a machine's workers while
    the quotes and settlements due wait in the queue."""
    deadline = time.monotonic() + ADMISSION_RUN_SECONDS
    admitted = 0
    try:
        while True:
            if linger:
                # The round sees every order placed so far; a wake-up left by one
                # of them would end the wait after it at once, for an empty round.
                services.placements_seen()
            admission = _admit_and_start(job=job)
            admitted += len(admission.orders)
            out_of_time = time.monotonic() >= deadline
            if admission.orders and not admission.exhausted and not out_of_time:
                continue
            if admission.job_running:
                return admitted  # the admission job at work answers the request
            if not admission.free:
                return admitted  # the request is left for what frees a slot
            if out_of_time:
                break
            if not linger or not services.await_placement(linger):
                break
            # Woken by the first order placed: give the next few a moment to
            # join its round, which costs the same for one order or ten.
            time.sleep(settings.ADMISSION_GATHER_MS / 1000)
    except Exception:
        if job:
            # Fail with the request down: the next placement, or the clock's
            # look, queues a new job rather than wait for the request to expire
            # (settlements leave a queued job's request alone).
            with contextlib.suppress(RedisError):
                services.admission_answered(job=True)
        raise
    services.admission_answered(job=job)
    if services.orders_ready().exists():
        # Hand over to a new job, so that the queue's other work gets a turn.
        services.request_admission()
    return admitted


def _admit_and_start(*, job: bool) -> services.Admission:
    if max(settings.MOCK_QUOTE_LATENCY_MS) > 0:
        admission = services.orders_admit(job=job)
        _execute(admission.orders)
        return admission
    # Quotes come back at once: admit, route and (with an instant chain)
    # settle in one transaction, one row update per order.
    with services.admission(most=INSTANT_BATCH, job=job) as admission:
        _advance(admission.orders, admit=True)
    return admission


def execute_orders(*order_ids: str) -> None:
    _admit_into_freed(_execute(_load(order_ids)))


def advance_orders(*order_ids: str) -> None:
    _admit_into_freed(_advance(_load(order_ids)))


def _admit_into_freed(follow_ups: "FollowUps") -> None:
    if follow_ups.freed:
        # Orders that ended (confirmed, or failed) free their slots: admit the
        # next ones now, but wait for no placement: this job has timers
        # behind it in the queue.
        admit_orders(linger=0, job=False)


def _execute(orders: list[Order]) -> "FollowUps":
    now = time.time()
    quoting = {}
    for order in orders:
        if order.status == OrderStatus.ROUTING:
            delay = mock.quote_latency_seconds()
            if delay > 0:
                quoting[order.id] = now + delay
    dispatch.enqueue_at("advance_orders", quoting)
    return _advance([order for order in orders if order.id not in quoting])


@dataclass
class FollowUps:
    """What the orders of a committed batch wait for next."""

    timers: dict = field(default_factory=dict)  # job -> {order id: due}
    freed: int = 0

    def note(self, order: Order) -> None:
        if order.is_terminal:
            self.freed += 1
        elif order.status == OrderStatus.SUBMITTED:
            self.timers.setdefault("advance_orders", {})[order.id] = order.settles_at.timestamp()
        elif order.status == OrderStatus.ROUTING:
            # A retry: back off before asking for quotes again.
            backoff = settings.ORDER_RETRY_BACKOFF_SECONDS * 2 ** (order.attempt - 2)
            self.timers.setdefault("execute_orders", {})[order.id] = time.time() + backoff

    def schedule(self) -> None:
        for job, due in self.timers.items():
            dispatch.enqueue_at(job, due)


# A job that fails with these fails for reasons of its own, not an order's:
# the database or Redis, or rq's job timeout (an Exception too, raised once).
NOT_THE_ORDERS_FAULT = (DatabaseError, RedisError, BaseTimeoutException)


def _advance(orders: list[Order], *, admit: bool = False) -> FollowUps:
    """Carry the orders on as far as they can go now (`admit`: from pending,
    under the admission lock); schedules what waits."""
    orders = [order for order in orders if not order.is_terminal]
    try:
        return _advance_together(orders, admit=admit)
    except NOT_THE_ORDERS_FAULT:
        raise  # the job fails, and the sweep resumes them
    except Exception:
        # One bad order must not hold up the others: carry them on one by one.
        log.exception("a batch of %d orders failed; carrying them on one at a time", len(orders))
    follow_ups = FollowUps()
    for order in _load([order.id for order in orders]):
        try:
            follow_ups.freed += _advance_together([order], admit=admit).freed
        except NOT_THE_ORDERS_FAULT:
            raise
        except Exception as exc:
            # Its transaction rolled back, so nothing was swapped; trying it
            # again would only fail again, and hold up everything behind it.
            log.exception("order %s could not be carried on; failing it", order.id)
            order.refresh_from_db()  # as the rolled-back transaction left it
            what = exc.__class__.__name__
            error = f"The engine could not process this order ({what}); nothing was swapped."
            services.order_fail(order=order, error=error, code="internal_error")
            follow_ups.freed += 1
    return follow_ups


def _settles_now(order: Order) -> bool:
    return order.status == OrderStatus.SUBMITTED and order.settles_at <= timezone.now() + SETTLE_EARLY


def _advance_together(orders: list[Order], *, admit: bool = False) -> FollowUps:
    follow_ups = FollowUps()
    if not orders:
        return follow_ups
    # Settling swaps, and so locks the pools: what is due, and with an
    # instant chain whatever gets submitted now.
    instant_chain = max(settings.MOCK_SWAP_LATENCY_MS) == 0
    settles = any(_settles_now(order) for order in orders) or (
        instant_chain and any(order.status != OrderStatus.SUBMITTED for order in orders)
    )
    pairs = {(resolve_token(order.token_in), resolve_token(order.token_out)) for order in orders}
    with services.batch() as moves:
        session = MarketSession(pairs, for_update=settles)
        for order in orders:
            with order_context(order.id):
                move = Move(order)
                if admit and order.status in (OrderStatus.PENDING, OrderStatus.WAITING):
                    move.admit()
                try:
                    if order.status == OrderStatus.ROUTING:
                        execution.route(move, session)
                    if order.status == OrderStatus.BUILDING:
                        execution.submit(move)
                    if settles and _settles_now(order):
                        execution.settle(move, session, moves)
                except execution.TransientFailure as failure:
                    _retry_or_fail(move, failure)
                if move.claimed is None:
                    moves.claim(move)
                if move.claimed:
                    follow_ups.note(order)
        session.save()
        if follow_ups.timers:
            # Once this batch's statuses are out: a timer can be due at once,
            # and the job it starts, on another worker, must broadcast after them.
            moves.then(follow_ups.schedule)
    return follow_ups


def _retry_or_fail(move: Move, failure: "execution.TransientFailure") -> None:
    """Retry policy: exponential back-off, at most ORDER_MAX_ATTEMPTS in all."""
    order = move.order
    if order.attempt >= settings.ORDER_MAX_ATTEMPTS:
        execution.fail(move, error=f"{failure} (gave up after {order.attempt} attempts)", code=failure.code)
        return
    move.reach(
        OrderStatus.ROUTING, attempt=order.attempt + 1, extra={"retryReason": str(failure)}, **retry_resets()
    )
    log.info("order %s: attempt %s after a transient failure: %s", order.id, order.attempt, failure)
