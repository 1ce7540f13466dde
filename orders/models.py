import hashlib
import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from orders.fields import ExactDecimalField
from orders.statements import RowWithChildren


class OrderType(models.TextChoices):
    MARKET = "market"
    LIMIT = "limit"
    SNIPER = "sniper"


class OrderStatus(models.TextChoices):
    PENDING = "pending"
    WAITING = "waiting"
    ROUTING = "routing"
    BUILDING = "building"
    SUBMITTED = "submitted"
    CONFIRMED = "confirmed"
    FAILED = "failed"
    CANCELLED = "cancelled"


# The lifecycle is a line; a status may only move to a later one.
LIFECYCLE = [
    OrderStatus.PENDING,
    OrderStatus.WAITING,
    OrderStatus.ROUTING,
    OrderStatus.BUILDING,
    OrderStatus.SUBMITTED,
    OrderStatus.CONFIRMED,
]
TERMINAL_STATUSES = frozenset({OrderStatus.CONFIRMED, OrderStatus.FAILED, OrderStatus.CANCELLED})
IN_FLIGHT_STATUSES = (OrderStatus.ROUTING, OrderStatus.BUILDING, OrderStatus.SUBMITTED)


class StatusConstant(models.Value):
    """A status written into a query's SQL rather than sent as a parameter.
    On PostgreSQL the engine's statements are prepared, and planned once for
    every value of their parameters (config/settings.py); a plan that does
    not know the status cannot use an index that holds only some statuses."""

    def as_sql(self, compiler, connection):
        if self.value not in OrderStatus.values:
            raise ValueError(f"not a status: {self.value!r}")
        return f"'{self.value}'", []


def _ready(status=str) -> models.Q:
    return models.Q(status=status(OrderStatus.PENDING)) | models.Q(
        status=status(OrderStatus.WAITING), triggered_at__isnull=False
    )


# Orders waiting for a slot: market orders, and limit and sniper orders whose
# trigger fired; the condition of the `order_ready` index, and the same
# condition as admission queries it, with the statuses in its SQL.
READY = _ready()
READY_CONSTANT = _ready(StatusConstant)
# Waiting orders: the condition of the `order_limit_trigger` and `order_expiry`
# indexes, and, with the status in its SQL, of the queries that read them.
WAITING = models.Q(status=OrderStatus.WAITING)
WAITING_CONSTANT = models.Q(status=StatusConstant(OrderStatus.WAITING))

AMOUNT = {"max_digits": 40, "decimal_places": 18}


class Order(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=16, choices=OrderType.choices, default=OrderType.MARKET)
    token_in = models.CharField(max_length=16)
    token_out = models.CharField(max_length=16)
    amount = ExactDecimalField(**AMOUNT)
    slippage_bps = models.PositiveIntegerField(default=50)
    status = models.CharField(max_length=16, choices=OrderStatus.choices, default=OrderStatus.PENDING)

    dex = models.CharField(max_length=16, blank=True)
    quotes = models.JSONField(default=list, blank=True)
    # The chosen route as the router serialised it, so that a later job (or a
    # resumed one, after a worker died) executes exactly what was quoted.
    route = models.JSONField(default=dict, blank=True)
    expected_amount_out = ExactDecimalField(**AMOUNT, null=True, blank=True)
    min_amount_out = ExactDecimalField(**AMOUNT, null=True, blank=True)
    amount_out = ExactDecimalField(**AMOUNT, null=True, blank=True)
    executed_price = ExactDecimalField(**AMOUNT, null=True, blank=True)
    tx_hash = models.CharField(max_length=100, blank=True)
    # When the submitted transaction lands on the mock chain.
    settles_at = models.DateTimeField(null=True, blank=True)
    attempt = models.PositiveSmallIntegerField(default=1)
    error = models.TextField(blank=True)
    error_code = models.CharField(max_length=32, blank=True)

    # Limit orders: the worst price accepted, in tokenOut per tokenIn.
    limit_price = ExactDecimalField(**AMOUNT, null=True, blank=True)
    # The limit price as a float, a hair low: only for finding candidates by
    # index (SQLite compares DecimalFields unreliably); each is then checked
    # exactly against limit_price.
    trigger_price = models.FloatField(null=True, blank=True)
    # Sniper orders: the most paid per token, in tokenIn per tokenOut.
    max_price = ExactDecimalField(**AMOUNT, null=True, blank=True)
    # A waiting order that has not triggered by then fails as `expired`.
    expires_at = models.DateTimeField(null=True, blank=True)
    # When a waiting order's trigger fired; it then waits for a free slot.
    triggered_at = models.DateTimeField(null=True, blank=True)

    # Who placed it, when it was placed with an API key or by a logged-in
    # user: only they (or an operator) may cancel it. Kept even when the key
    # is revoked; a key or user with orders cannot be deleted. Not indexed:
    # nothing looks orders up by who placed them, and every placement would
    # pay for the entries.
    api_key = models.ForeignKey(
        "ApiKey", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )

    # An operator's retry of a failed order is a new order: a terminal status
    # is final, so the old one keeps its failure and points to its successor.
    # Unique where set (Meta.constraints): an order is retried at most once.
    retry_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retries", db_index=False
    )

    # Unique where set (Meta.constraints): NULL, not "", for an order placed without one.
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    request_fingerprint = models.CharField(max_length=64, blank=True)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # Lists and the sweeper read orders by status, newest or oldest first.
            models.Index(fields=["status", "created_at"], name="order_status_created"),
            # Admission takes the oldest ready orders, of two statuses: one
            # index holds just them, in that order. An order admitted leaves a
            # dead entry behind until the table is vacuumed, which the first
            # scan to meet it marks (config/settings.py: no bitmap scans).
            models.Index(fields=["created_at"], condition=READY, name="order_ready"),
            # A pool update finds the limit orders its price crossed by range
            # scan, never by reading every waiting order. This index and the
            # next hold waiting orders only, as the constraints below hold
            # only the rows that set their column: every index an order is in
            # costs each write of it a page or more, and no other order is
            # ever looked up by them.
            # Their status, the same in every entry, is there for SQLite's
            # planner: without statistics it prefers `order_status_created`
            # to an index whose first column it can only range over.
            models.Index(
                fields=["status", "token_in", "token_out", "trigger_price"],
                condition=WAITING,
                name="order_limit_trigger",
            ),
            models.Index(fields=["status", "expires_at"], condition=WAITING, name="order_expiry"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="order_idempotency_key",
            ),
            models.UniqueConstraint(
                fields=["retry_of"], condition=models.Q(retry_of__isnull=False), name="order_retried_once"
            ),
        ]

    def __str__(self) -> str:
        # 1.5, not the column's 1.500000000000000000.
        return f"{self.amount.normalize():f} {self.token_in}->{self.token_out} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @classmethod
    def with_history(cls, pk) -> "tuple[Order, list[OrderEvent]] | None":
        """The order and its history read by one statement, so they agree: two
        queries could see a status in the history that the row does not show
        yet, or the other way round."""
        return _with_history(pk)

    @classmethod
    def with_histories(cls, orders) -> "list[tuple[Order, list[OrderEvent]]]":
        """Each of these orders with its history, as with_history reads them:
        the row comes from the same statement as its history, so it may have
        moved on since `orders` were read. An order without history keeps
        the row given."""
        orders = list(orders)
        found: dict = {}
        for event in OrderEvent.objects.filter(order_id__in=[o.pk for o in orders]).select_related("order"):
            found.setdefault(event.order_id, (event.order, []))[1].append(event)
        return [found.get(order.pk, (order, [])) for order in orders]


class OrderEvent(models.Model):
    """One row per status an order reached: its history."""

    order = models.ForeignKey(Order, related_name="events", on_delete=models.CASCADE)
    status = models.CharField(max_length=16, choices=OrderStatus.choices)
    attempt = models.PositiveSmallIntegerField(default=1)
    at = models.DateTimeField()
    # The fields that came with this status, exactly as broadcast.
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        # Write order: one order's statuses are written one transaction after
        # another, while `at` comes from the clock of whichever host moved it.
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.order_id} {self.status} @ {self.at.isoformat()}"


# Order.with_history's statement: written once per database, since every
# socket's snapshot reads one (orders/statements.py).
_with_history = RowWithChildren(Order, OrderEvent, via="order", order_by=("id",))


# API keys for programs that place orders. A key is shown once, when it is
# issued, and stored only as its SHA-256: keys are 256-bit random strings, so
# a fast hash is as safe as a slow one and costs nothing per request.
KEY_PREFIX = "oek_"


def _digest(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


class ApiKey(models.Model):
    name = models.CharField(max_length=100, help_text="Who or what uses this key.")
    # The first characters of the key, to tell keys apart in lists and logs.
    prefix = models.CharField(max_length=12, editable=False, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked = models.BooleanField(default=False)

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def issue(self) -> str:
        """Give this key a new secret, save it, and return the secret."""
        raw_key = KEY_PREFIX + secrets.token_urlsafe(32)
        self.prefix, self.key_hash = raw_key[:12], _digest(raw_key)
        self.save()
        return raw_key

    @classmethod
    def find(cls, raw_key: str) -> "ApiKey | None":
        key = cls.objects.filter(key_hash=_digest(raw_key), revoked=False).first()
        if key is not None:
            cls.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
        return key
