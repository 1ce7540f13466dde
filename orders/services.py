"""The only write path for orders.

Views, jobs, the admin and management commands call these functions; none of
them saves an Order on its own. A status change is a `Move`: the statuses one
order reaches in one piece of work, each with its fields. A `batch()` writes
moves in one transaction: each order's row with one conditional update,
whatever number of statuses it passed (so a job that runs twice cannot move
an order twice), every history row with one insert, and, once it commits,
one broadcast per order.
"""

import dataclasses
import logging
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from redis.exceptions import LockError, RedisError

from config.compiled import CompiledQuery
from orders import dispatch, lock_holder, metrics, triggers
from orders.broadcast import moves_broadcast, nothing
from orders.models import (
    IN_FLIGHT_STATUSES,
    LIFECYCLE,
    READY_CONSTANT,
    TERMINAL_STATUSES,
    Order,
    OrderEvent,
    OrderStatus,
    OrderType,
)
from orders.serializers import order_fields, status_message
from orders.statements import ConditionalUpdate, Insert

log = logging.getLogger(__name__)

insert_orders, insert_events = Insert(Order), Insert(OrderEvent)
# A move writes an order's row only if it still has the status and attempt it had.
claim_order = ConditionalUpdate(Order, condition=("status", "attempt"))

# The fields a status message carries, besides orderId, status, at and attempt.
STATUS_FIELDS = {
    # The order's type goes as orderType: "type" is the message's own ("status").
    OrderStatus.PENDING: ("tokenIn", "tokenOut", "amount", "slippageBps", "orderType"),
    OrderStatus.WAITING: ("limitPrice", "maxPrice", "expiresAt"),
    OrderStatus.BUILDING: ("dex", "quotes", "route", "expectedAmountOut", "minAmountOut"),
    OrderStatus.SUBMITTED: ("dex", "txHash"),
    OrderStatus.CONFIRMED: ("dex", "txHash", "amountOut", "executedPrice"),
    OrderStatus.FAILED: ("error", "errorCode"),
}


# How long after its commit a placement's `pending` may still be on its way
# to the feed, behind its web process's broadcast thread (Move.admit).
PLACEMENT_BROADCAST_LAG = timedelta(seconds=10)

# How far below its limit a limit order's index price sits: floats round,
# and a candidate too many costs one exact check, a candidate missed a fill.
TRIGGER_PRICE_MARGIN = 1e-9


class IdempotencyConflict(Exception):
    """The Idempotency-Key was used before with a different request."""


def _may_move(current: str, to: str) -> bool:
    if current in TERMINAL_STATUSES:
        return False
    if to == OrderStatus.FAILED:
        return True
    if to == OrderStatus.CANCELLED:
        return current in (OrderStatus.PENDING, OrderStatus.WAITING)
    return LIFECYCLE.index(to) > LIFECYCLE.index(current)


class Move:
    """The statuses one order reaches in one piece of work, in order.

    `reach` changes the order in memory and notes the status message; the
    row is written when the move is claimed (`Batch.claim`), on condition
    that it still has the status and attempt it had when the move began.
    """

    def __init__(self, order: Order, *, new: bool = False):
        self.order = order
        # The order was created in this transaction: no socket can be
        # subscribed to it yet (its snapshot will show these statuses).
        self.new = new
        self.claim = (order.status, order.attempt)
        self.fields: dict = {}
        self.events: list[OrderEvent] = []
        self.messages: list[dict] = []
        # Messages that go before these, to the all-orders feed only (_resend_placement).
        self.feed_first: list[dict] = []
        # None until the batch tries to write the row; then whether it could.
        self.claimed: bool | None = None
        self._before: dict = {}

    def record(self, *, extra: dict | None = None) -> None:
        """The history row and message for the status the order has now (a new order's first)."""
        event = self._event(extra)
        self.events.append(event)
        self.messages.append(status_message(event))

    def _event(self, extra: dict | None = None) -> OrderEvent:
        order = self.order
        carried = STATUS_FIELDS.get(order.status, ())
        wire = {"orderType": order.type, **order_fields(order, route="route" in carried)}
        data = {key: wire[key] for key in carried}
        data.update(extra or {})
        return OrderEvent(
            order=order, status=order.status, attempt=order.attempt, at=order.updated_at, data=data
        )

    def admit(self) -> None:
        """Move a ready order on to routing."""
        self._resend_placement()
        self.reach(OrderStatus.ROUTING)

    def cancel(self) -> None:
        self._resend_placement()
        self.reach(OrderStatus.CANCELLED)

    def _resend_placement(self) -> None:
        """A market order placed moments ago has its `pending` go to the feed
        again, ahead of the status it moves on to (routing, cancelled), as
        the placement sent it: the placement sends it from its web process's
        broadcast thread after its commit, and a move that follows at once
        can broadcast before that. A feed sends each status once, whichever
        comes first (orders/consumers.py)."""
        order = self.order
        if order.status != OrderStatus.PENDING or self.new:
            return
        if timezone.now() - order.updated_at < PLACEMENT_BROADCAST_LAG:
            extra = {"retryOf": str(order.retry_of_id)} if order.retry_of_id else None
            self.feed_first.append(status_message(self._event(extra)))

    def reach(self, to: str, *, attempt: int | None = None, extra: dict | None = None, **fields) -> None:
        """Move on to `to`; a retry (`attempt` raised) starts over from routing."""
        order = self.order
        retry = attempt is not None and attempt > order.attempt and to == OrderStatus.ROUTING
        if not retry and not _may_move(order.status, to):
            raise ValueError(f"an order cannot go from {order.status} to {to}")
        for name in ("status", "attempt", "updated_at", *fields):
            self._before.setdefault(name, getattr(order, name))
        for name, value in fields.items():
            setattr(order, name, value)
        order.status, order.updated_at = to, timezone.now()
        if attempt is not None:
            order.attempt = attempt
        self.fields.update(fields)
        self.record(extra=extra)

    @property
    def moved(self) -> bool:
        return bool(self.fields) or self.claim != (self.order.status, self.order.attempt)

    def write(self) -> bool:
        """Claim the row: False (and the order as it was) if someone moved it first."""
        if not self.moved:
            return True
        order, (status, attempt) = self.order, self.claim
        claimed = claim_order(
            order.pk,
            (status, attempt),
            {"status": order.status, "attempt": order.attempt, "updated_at": order.updated_at, **self.fields},
        )
        if not claimed:
            for name, value in self._before.items():
                setattr(order, name, value)
        return bool(claimed)


class Batch:
    def __init__(self):
        self.moves: list[Move] = []
        self._then: list = []
        self._after: list = []
        self._send = nothing

    def then(self, callback, *, wait: bool = True) -> None:
        """Call `callback` once the batch has committed and its statuses are
        out on the channel layer (orders.broadcast.moves_broadcast): on
        the committing thread, which sends them; or, with `wait=False`, on
        the process's broadcast thread, which sends them then, and the
        committing thread goes on at once (for a request, which should not
        wait for Redis; Redis work only)."""
        (self._then if wait else self._after).append(callback)

    def claim(self, move: Move) -> bool:
        """Write the move's row now, inside the batch's transaction."""
        if move.claimed is not None:
            raise RuntimeError(f"the move of order {move.order.id} was claimed already")
        move.claimed = move.write()
        if move.claimed and move.events:
            self.moves.append(move)
        return move.claimed

    def _finish(self) -> None:
        events = [event for move in self.moves for event in move.events]
        if not events:
            for callback in self._then + self._after:
                transaction.on_commit(callback)
            return
        metrics.moves_recorded(self.moves)
        insert_events(events)
        self._send, follow = moves_broadcast(self.moves, then=self._then, after=self._after)
        transaction.on_commit(follow)


@contextmanager
def batch():
    """One transaction for the moves claimed in it; they broadcast once it commits."""
    with transaction.atomic():
        moves = Batch()
        # Its statuses first in line once it commits, ahead of what the
        # batch's own work sets for then (the trigger checks a swap's pool
        # change starts, which may take a while): a process killed in
        # between had written statuses that no socket ever heard of. What
        # they set going comes last (Batch._finish).
        transaction.on_commit(lambda: moves._send())  # what _finish sets, read once committed
        yield moves
        moves._finish()


def _claim(order: Order, *, to: str, extra: dict | None = None, **fields) -> bool:
    """Move one order to `to` in a transaction of its own (or the caller's);
    ValueError if its lifecycle does not allow it."""
    move = Move(order)
    move.reach(to, extra=extra, **fields)
    return _write(move)


def _write(move: Move) -> bool:
    """Claim one move in a transaction of its own (or the caller's)."""
    with batch() as moves:
        return moves.claim(move)


def _set_going(move: Move, moves: Batch, expires_in_seconds: float) -> None:
    """What a new order asks for once it commits. A market order asks for
    admission, once its `pending` is out: a worker woken before could
    broadcast `routing` ahead of it. A limit or sniper order is armed
    (`waiting`) until it expires, and asks for a look at the market, whose
    price may already satisfy it (or whose token launched)."""
    order = move.order
    if order.type == OrderType.MARKET:
        moves.then(request_admission, wait=False)
        return
    move.reach(OrderStatus.WAITING, expires_at=order.created_at + timedelta(seconds=expires_in_seconds))
    pair = (order.token_in, order.token_out)
    moves.then(lambda: triggers.check_pairs([pair]))


def order_place(
    *,
    amount: Decimal,
    token_in: str,
    token_out: str,
    slippage_bps: int = 50,
    order_type: str = OrderType.MARKET,
    limit_price: Decimal | None = None,
    max_price: Decimal | None = None,
    expires_in_seconds: int | None = None,
    idempotency_key: str | None = None,
    fingerprint: str = "",
    api_key=None,
    placed_by=None,
    replay_of: Order | None = None,
) -> tuple[Order, bool]:
    """Store a new order. A market order is pending and asks for admission
    once it commits; a limit or sniper order is armed at once (`waiting`)
    and asks for a look at the market, whose price may already satisfy it.

    `api_key`, `placed_by`: who placed it, when anyone did.
    Returns the order and whether it was created: with an Idempotency-Key
    seen before (and the same request) the earlier order comes back.
    `replay_of`: that earlier order, when the caller looked the key up
    already (and validated the request as a replay, against it).
    """
    # Made before the transaction: every writer queues for SQLite's write lock.
    order = Order(
        type=order_type,
        token_in=token_in,
        token_out=token_out,
        amount=amount,
        slippage_bps=slippage_bps,
        limit_price=limit_price,
        trigger_price=float(limit_price) * (1 - TRIGGER_PRICE_MARGIN) if limit_price else None,
        max_price=max_price,
        idempotency_key=idempotency_key or None,
        request_fingerprint=fingerprint,
        api_key=api_key,
        placed_by=placed_by,
    )
    existing = replay_of or order_for_idempotency_key(idempotency_key)
    if existing:
        return _replay(existing, order), False
    try:
        with batch() as moves:
            insert_orders([order])
            move = Move(order, new=True)
            move.record()
            _set_going(move, moves, expires_in_seconds or settings.DEFAULT_ORDER_EXPIRY_SECONDS)
            moves.claim(move)
    except IntegrityError:
        # Two requests with one Idempotency-Key raced; the other one won.
        existing = Order.objects.filter(idempotency_key=idempotency_key).first()
        if not idempotency_key or existing is None:
            raise
        return _replay(existing, order), False
    return order, True


def order_for_idempotency_key(key: str | None) -> Order | None:
    """The order placed with this Idempotency-Key, if the key is still
    remembered. A key older than IDEMPOTENCY_KEY_TTL_HOURS is forgotten (its
    order keeps everything else), so it may place a new order."""
    if not key:
        return None
    existing = Order.objects.filter(idempotency_key=key).first()
    if existing is None:
        return None
    if existing.created_at < timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS):
        Order.objects.filter(pk=existing.pk, idempotency_key=key).update(idempotency_key=None)
        return None
    return existing


def _replay(existing: Order, asked: Order) -> Order:
    """The order an Idempotency-Key placed, for the same request (`asked`,
    not stored) from the same client; another client's (another key or
    user) is not theirs to see or to own."""
    if (existing.api_key_id, existing.placed_by_id) != (asked.api_key_id, asked.placed_by_id):
        raise IdempotencyConflict("this Idempotency-Key was already used by another client")
    if existing.request_fingerprint != asked.request_fingerprint:
        raise IdempotencyConflict("this Idempotency-Key was already used with a different request")
    return existing


def order_transition(*, order: Order, to: str, extra: dict | None = None, **fields) -> bool:
    """Move an order forward along its lifecycle. False if it had already moved."""
    return _claim(order, to=to, extra=extra, **fields)


def order_fail(*, order: Order, error: str, code: str) -> bool:
    """The order ends in `failed`, with a sentence and a machine-readable code."""
    if order.is_terminal:
        return False
    failed = _claim(order, to=OrderStatus.FAILED, error=error, error_code=code)
    if failed:
        log.info("order %s failed: %s (%s)", order.id, error, code)
    return failed


def retry_resets() -> dict:
    """What a retry resets: the next attempt routes from scratch."""
    return {
        "dex": "",
        "quotes": [],
        "route": {},
        "expected_amount_out": None,
        "min_amount_out": None,
        "tx_hash": "",
        "settles_at": None,
    }


def order_expire(order: Order) -> bool:
    """A limit or sniper order whose time is up ends `failed` (`expired`),
    saying what it waited for."""
    return order_fail(order=order, error=triggers.expiry_message(order), code="expired")


def order_cancel(*, order: Order) -> bool:
    """Cancel an order that has not started routing (pending, or waiting for
    its trigger). False once it has: the conditional update lets exactly one
    of a cancel and a racing admission win."""
    if order.status not in (OrderStatus.PENDING, OrderStatus.WAITING):
        return False
    move = Move(order)
    move.cancel()
    return _write(move)


def order_retry_failed(*, order: Order) -> Order | None:
    """An operator retries a failed order: the same request placed again as a
    new order (statuses never leave a terminal state), with the same terms;
    a limit or sniper order waits again, for as long as it was given the
    first time. None if the order has not failed or was retried already."""
    if order.status != OrderStatus.FAILED or Order.objects.filter(retry_of=order).exists():
        return None
    try:
        with batch() as moves:
            retry = Order.objects.create(
                type=order.type,
                token_in=order.token_in,
                token_out=order.token_out,
                amount=order.amount,
                slippage_bps=order.slippage_bps,
                limit_price=order.limit_price,
                trigger_price=order.trigger_price,
                max_price=order.max_price,
                api_key_id=order.api_key_id,
                placed_by_id=order.placed_by_id,
                retry_of=order,
            )
            move = Move(retry, new=True)
            move.record(extra={"retryOf": str(order.id)})
            lifetime = order.expires_at - order.created_at if order.expires_at else None
            _set_going(
                move, moves, lifetime.total_seconds() if lifetime else settings.DEFAULT_ORDER_EXPIRY_SECONDS
            )
            moves.claim(move)
    except IntegrityError:
        # Another operator retried it meanwhile (`order_retried_once`): theirs stands.
        if Order.objects.filter(retry_of=order).exists():
            return None
        raise
    return retry


# --- Admission: at most ORDER_CONCURRENCY orders in flight, oldest first ------

ADMISSION_LOCK = "orders:admission-lock"
# A round holds the lock for milliseconds; one whose holder was killed holds
# it until it expires, unless a waiter on the holder's machine sees that the
# holder is gone (orders.lock_holder) and takes it down. Otherwise the
# admission job waits that long; a settlement, which other orders' timers
# queue behind, waits this long and then leaves the slots it freed to an
# admission job.
ADMISSION_LOCK_SECONDS = 30
SETTLEMENT_LOCK_WAIT_SECONDS = 1.0
# "queued" while an admission job is queued or at work: the request is that
# job's to answer. "slot" when the job ended for want of a free slot: the
# request is then for whatever frees one (a settlement) to answer.
ADMISSION_REQUESTED = "orders:admission-requested"
# A list of at most one element, pushed by every request for admission.
ORDERS_PLACED = "orders:placed"


def request_admission() -> None:
    """Ask a worker to admit pending orders. Requests coalesce: while one is
    queued or an admission job works (orders.jobs.admit_orders), placements
    add nothing to the queue, and wake that job if it waits for them.

    If Redis is down the order is still stored; the clock admits it once Redis
    is back, so placement does not fail for want of the queue."""
    try:
        pipeline = dispatch.redis().pipeline(transaction=False)
        pipeline.set(ADMISSION_REQUESTED, "queued", nx=True, ex=10)
        pipeline.lpush(ORDERS_PLACED, 1)
        pipeline.ltrim(ORDERS_PLACED, 0, 0)
        if pipeline.execute()[0]:
            dispatch.queue().enqueue(
                "orders.jobs.admit_orders", job_timeout=dispatch.JOB_TIMEOUT, result_ttl=0
            )
    except RedisError as exc:
        log.warning("could not request admission (%s); the clock will admit the order", exc)


# DEL if the value is still the one given: each answers only the request it
# owns, not one that was queued (or left for a slot) since it looked.
_DELETE_IF_UNCHANGED = """
if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) end
return 0
"""


def admission_answered(*, job: bool) -> None:
    """Admitted all it could: the next request queues a new admission job.
    The job answers its queued request; a settlement (`job=False`) only a
    request that a job left for a free slot."""
    connection = dispatch.redis()
    answer = connection.register_script(_DELETE_IF_UNCHANGED)
    answer(keys=[ADMISSION_REQUESTED], args=["queued" if job else "slot"])


def admission_looked_after() -> None:
    """The clock's periodic look: ask for admission if orders wait. A request
    left for a free slot is taken down first when a slot is free after all
    (something freed it without admitting): the look then queues a job,
    rather than wait for the request to expire."""
    if not orders_ready().exists():
        return
    in_flight = Order.objects.filter(status__in=IN_FLIGHT_STATUSES).count()
    if in_flight < settings.ORDER_CONCURRENCY:
        admission_answered(job=False)
    request_admission()


def placements_seen() -> None:
    """Drop the wake-up of orders placed so far: the admission round about to
    run sees them (each pushes its wake-up after its commit)."""
    dispatch.redis().delete(ORDERS_PLACED)


def await_placement(timeout: float) -> bool:
    """Wait up to `timeout` seconds for an order to be placed (or a trigger
    to fire); whether one was."""
    return dispatch.redis().blpop([ORDERS_PLACED], timeout=timeout) is not None


def orders_ready():
    """Orders waiting for a slot: market orders, and limit and sniper orders
    whose trigger fired."""
    return Order.objects.filter(READY_CONSTANT)


# What every admission round reads, under the admission lock.
orders_in_flight = CompiledQuery(Order, lambda: Order.objects.filter(status__in=IN_FLIGHT_STATUSES))
oldest_ready = CompiledQuery(Order, lambda most: orders_ready().order_by("created_at")[:most])


@dataclasses.dataclass
class Admission:
    free: int  # slots free when the block began
    orders: list[Order]  # the ones to move to routing, oldest first
    # No other order was ready: admitting again now would find none.
    exhausted: bool = False
    # (For a round that is not the admission job's) the request reads
    # "queued": an admission job is queued or at work, and will answer it.
    job_running: bool = False


@contextmanager
def admission(*, job: bool, most: int | None = None):
    """Yield the orders that may start routing now: the oldest ready ones, at
    most as many as there are free slots (and `most`; a limit order whose
    price moved back while it waited is re-armed instead). The caller moves each one to
    routing, or further, in a batch inside the block.

    The in-flight count is read from the database, the one truth shared by
    every worker on every machine; a Redis lock, held to the end of the
    block, makes count-then-claim atomic across them.

    `job`: this is the admission job's round. Finding no free slot, the job
    ends and leaves the request up for whatever frees one (a settlement); it
    says so under the lock, so that a settlement's round, also under it,
    knows whether the request is its own to answer, or a job's.
    """
    connection = dispatch.redis()
    # redis-py polls a held lock every 100 ms by default; admission is short.
    lock = connection.lock(ADMISSION_LOCK, timeout=ADMISSION_LOCK_SECONDS, sleep=0.002)
    token = lock_holder.holder_token()
    acquired = lock.acquire(token=token, blocking_timeout=SETTLEMENT_LOCK_WAIT_SECONDS)
    if not acquired and _take_down_a_dead_holders_lock(connection):
        acquired = lock.acquire(token=token, blocking_timeout=SETTLEMENT_LOCK_WAIT_SECONDS)
    if not acquired and job:
        acquired = lock.acquire(token=token, blocking_timeout=ADMISSION_LOCK_SECONDS)
    if not acquired:
        if job:
            raise LockError("the admission lock stayed taken")
        # Held past any round's length: by a worker killed mid-round, most
        # likely. Waiting out its expiry here held up both workers, and every
        # order's next step behind them, for up to 30 s.
        log.warning(
            "admission lock held past %s s; freed slots left to an admission job", lock.blocking_timeout
        )
        # As the clock's look does: a request a job left for a free slot
        # would keep this one from queuing a job.
        admission_answered(job=False)
        request_admission()
        yield Admission(0, [], job_running=True)
        return
    try:
        free = max(settings.ORDER_CONCURRENCY - orders_in_flight.count(), 0)
        wanted = min(free, most or free)
        found = oldest_ready.rows(wanted) if wanted else []
        ready, rearmed = [], set()
        now = timezone.now()
        for order in found:
            if triggers.expired(order, now):
                # Its trigger fired, but its time ran out waiting for a slot;
                # the clock fails such orders only every few seconds.
                order_expire(order)
                continue
            try:
                moved_back = order.type == OrderType.LIMIT and not triggers.limit_reached(order)
            except (TypeError, ArithmeticError):
                # A row no code path writes (no limit, a limit of zero). Left
                # ready, it would be in every round and hold up every order
                # behind it; admitted, its job fails it (`internal_error`).
                # Anything else (the database) fails the round, as before.
                log.exception("admitting order %s: its limit could not be checked", order.pk)
                moved_back = False
            if moved_back:
                # The price moved back while the order waited for a slot: re-arm it.
                Order.objects.filter(pk=order.pk, status=OrderStatus.WAITING).update(triggered_at=None)
                rearmed.add((order.token_in, order.token_out))
                continue
            ready.append(order)
        if job and not free:
            connection.set(ADMISSION_REQUESTED, "slot", ex=10)
        running = not job and connection.get(ADMISSION_REQUESTED) == b"queued"
        yield Admission(free, ready, exhausted=len(found) < wanted, job_running=running)
    finally:
        lock.release()  # as the lock's own `with` does: LockNotOwnedError if it expired meanwhile
    if rearmed:
        # A pool move that committed between the price read and the re-arm
        # skipped these orders (they were triggered then): check them again.
        triggers.check_pairs(rearmed)


def _take_down_a_dead_holders_lock(connection) -> bool:
    """A round takes milliseconds: a lock held past a second may be a killed
    worker's, which would hold every admission up until it expires (30 s).
    Taken down, if its holder is a process of this machine that is gone."""
    holder = connection.get(ADMISSION_LOCK)
    if not lock_holder.holder_is_gone(holder):
        return False
    taken_down = connection.register_script(_DELETE_IF_UNCHANGED)(keys=[ADMISSION_LOCK], args=[holder])
    if taken_down:
        gone = holder.decode("ascii", "replace")
        log.warning("took down the admission lock of %s, a process that is gone", gone)
    return bool(taken_down)


def orders_admit(*, job: bool) -> Admission:
    """Move the oldest ready orders to routing while fewer than
    ORDER_CONCURRENCY are in flight; returns them, for the caller to carry on."""
    with admission(job=job) as admitted, batch() as moves:
        for order in admitted.orders:
            move = Move(order)
            move.admit()
            moves.claim(move)
    return dataclasses.replace(admitted, orders=[move.order for move in moves.moves])
