"""Orders in the admin: read-only. Operators act through the actions, which
go through orders.services like every other write. The "Launch a token" page
(orders/admin_views.py) hangs off this admin's URLs."""

import re
import uuid

from django.contrib import admin, messages
from django.core.cache import cache
from django.db.models import DecimalField, F, Value
from django.db.models.functions import Cast, Concat
from django.urls import path, reverse
from django.utils.html import format_html
from redis.exceptions import RedisError

from orders import services
from orders.admin_views import launch_token_view, operators_only
from orders.api.auth import is_operator
from orders.models import AMOUNT, ApiKey, Order, OrderEvent, OrderStatus, OrderType
from orders.serializers import decimal_str
from routing.models import Dex
from routing.routes import SPLIT


class OrderEventInline(admin.TabularInline):
    model = OrderEvent
    fields = ["status", "attempt", "moment", "data"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="at (UTC)")
    def moment(self, event):
        return event.at.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


PAIRS_CACHE_KEY = "orders:admin:pairs"
PAIRS_CACHE_SECONDS = 60


def order_pairs() -> list[tuple[str, str]]:
    """The pairs orders were placed for. The DISTINCT reads the whole table,
    so every list page of the admin would; it is read once a minute."""

    def read() -> list[tuple[str, str]]:
        pairs = Order.objects.values_list("token_in", "token_out").distinct()
        return list(pairs.order_by("token_in", "token_out"))

    try:
        return cache.get_or_set(PAIRS_CACHE_KEY, read, PAIRS_CACHE_SECONDS)
    except RedisError:
        return read()


class PairFilter(admin.SimpleListFilter):
    title = "pair"
    parameter_name = "pair"

    def lookups(self, request, model_admin):
        pairs = order_pairs()
        return [(f"{token_in}-{token_out}", f"{token_in} → {token_out}") for token_in, token_out in pairs]

    def queryset(self, request, queryset):
        if not self.value() or "-" not in self.value():
            return queryset
        token_in, token_out = self.value().split("-", 1)
        return queryset.filter(token_in=token_in, token_out=token_out)


class DexFilter(admin.SimpleListFilter):
    title = "dex"
    parameter_name = "dex"

    def lookups(self, request, model_admin):
        return [(dex, dex) for dex in (*Dex.values, SPLIT)]

    def queryset(self, request, queryset):
        return queryset.filter(dex=self.value()) if self.value() else queryset


ID_PREFIX = re.compile(r"[0-9a-f]{4,31}")


def _ids_starting_with(prefix: str) -> tuple[uuid.UUID, uuid.UUID]:
    """The first and last id that start with this hex prefix: a range the
    primary key's index serves, where LIKE on the id's text (PostgreSQL
    casts the column) reads the whole table."""
    return uuid.UUID(prefix.ljust(32, "0")), uuid.UUID(prefix.ljust(32, "f"))


def by_value(amount: str):
    """Sort an amount column as a number: on SQLite it holds text
    (orders.fields.ExactDecimalField), which sorts "10" before "9"."""
    return Cast(amount, DecimalField(**AMOUNT))


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = [
        "short_id",
        "type",
        "pair",
        "amount_in",
        "status_badge",
        "dex",
        "received",
        "attempt",
        "created_at",
    ]
    # Dates as ranges: a date hierarchy reads the distinct days (months, years)
    # of the whole list on every page, a scan no index serves.
    list_filter = ["status", "type", DexFilter, PairFilter, ("created_at", admin.DateFieldListFilter)]
    # What get_search_results matches: an id, its first characters, or a
    # whole transaction hash.
    search_fields = ["tx_hash"]
    # Filtered, a page counts what matches only, not the whole table too.
    show_full_result_count = False
    search_help_text = "Search by order id (or its first 8 characters, as listed) or transaction hash."
    ordering = ["-created_at"]
    list_per_page = 50
    inlines = [OrderEventInline]
    readonly_fields = ["page"]
    actions = ["retry_failed", "cancel_open"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "page",
                    "id",
                    "type",
                    "status",
                    "attempt",
                    "token_in",
                    "token_out",
                    "amount",
                    "slippage_bps",
                ]
            },
        ),
        ("Trigger", {"fields": ["limit_price", "max_price", "expires_at", "triggered_at"]}),
        ("Route", {"fields": ["dex", "quotes", "route", "expected_amount_out", "min_amount_out"]}),
        (
            "Execution",
            {"fields": ["tx_hash", "settles_at", "amount_out", "executed_price", "error", "error_code"]},
        ),
        (
            "Request",
            {"fields": ["api_key", "placed_by", "retry_of", "idempotency_key", "created_at", "updated_at"]},
        ),
    ]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        # admin_view: the admin's login, and staff only; the view: operators only.
        view = self.admin_site.admin_view(operators_only(launch_token_view))
        launch = path("launch-token/", view, name="orders_launch_token")
        return [launch, *super().get_urls()]

    def get_fieldsets(self, request, obj=None):
        # A market order has no trigger: leave the empty section out.
        if obj is not None and obj.type == OrderType.MARKET:
            return [fieldset for fieldset in self.fieldsets if fieldset[0] != "Trigger"]
        return self.fieldsets

    def get_search_results(self, request, queryset, search_term):
        # Order ids are UUIDs: match one exactly (with or without dashes), since
        # a substring search on a UUID column means nothing on most databases.
        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            return queryset.filter(pk=uuid.UUID(term)), False
        except ValueError:
            pass
        # The list shows an id's first 8 characters: an operator pastes those.
        # Alone, not OR-ed with the hash: an OR with an unindexed column
        # reads the whole table whatever the other side's index.
        prefix = term.replace("-", "").lower()
        if ID_PREFIX.fullmatch(prefix):
            first, last = _ids_starting_with(prefix)
            return queryset.filter(id__gte=first, id__lte=last), False
        # A whole transaction hash, as an explorer takes one (base58: case
        # matters). No index serves it: every submitted order has a hash, and
        # an index of them would cost every order a write to spare an
        # operator's rare search a scan.
        return queryset.filter(tx_hash=term), False

    @admin.display(description="dashboard")
    def page(self, order):
        return format_html('<a href="{}">Live order page</a>', reverse("order-page", args=[order.id]))

    @admin.display(description="id", ordering="id")
    def short_id(self, order):
        return str(order.id)[:8]

    @admin.display(description="pair", ordering=Concat(F("token_in"), Value("-"), F("token_out")))
    def pair(self, order):
        return format_html(
            '<span style="white-space:nowrap">{}&nbsp;→&nbsp;{}</span>', order.token_in, order.token_out
        )

    @admin.display(description="amount", ordering=by_value("amount"))
    def amount_in(self, order):
        return f"{decimal_str(order.amount)} {order.token_in}"

    @admin.display(description="amount out", ordering=by_value("amount_out"))
    def received(self, order):
        return f"{decimal_str(order.amount_out)} {order.token_out}" if order.amount_out is not None else "-"

    @admin.display(description="status", ordering="status")
    def status_badge(self, order):
        colours = {
            OrderStatus.WAITING: "#b45309",
            OrderStatus.CONFIRMED: "#15803d",
            OrderStatus.FAILED: "#b91c1c",
            OrderStatus.CANCELLED: "#64748b",
        }
        return format_html(
            '<span style="color:{};font-weight:600">{}</span>',
            colours.get(order.status, "#1d4ed8"),
            order.status,
        )

    def has_operate_permission(self, request) -> bool:
        return is_operator(request.user)

    @admin.action(description="Retry selected failed orders", permissions=["operate"])
    def retry_failed(self, request, queryset):
        # A retry is a new order for the same request: a failed order stays failed.
        retried = skipped = 0
        for order in queryset:
            if services.order_retry_failed(order=order):
                retried += 1
            else:
                skipped += 1
        why = "not failed, or retried already"
        self._report(request, done=retried, verb="Retried", skipped=skipped, why=why)

    @admin.action(description="Cancel selected pending or waiting orders", permissions=["operate"])
    def cancel_open(self, request, queryset):
        # order_cancel claims the row, so an order that starts routing
        # meanwhile is left alone and counted as skipped.
        cancelled = skipped = 0
        for order in queryset:
            if services.order_cancel(order=order):
                cancelled += 1
            else:
                skipped += 1
        why = "already routing or finished"
        self._report(request, done=cancelled, verb="Cancelled", skipped=skipped, why=why)

    def _report(self, request, *, done: int, verb: str, skipped: int, why: str) -> None:
        noun = "order" if done == 1 else "orders"
        self.message_user(request, f"{verb} {done} {noun}.", messages.SUCCESS if done else messages.INFO)
        if skipped:
            noun = "order was" if skipped == 1 else "orders were"
            self.message_user(request, f"{skipped} {noun} left alone: {why}.", messages.WARNING)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Operators issue and revoke the keys programs place orders with."""

    list_display = ["name", "prefix", "created_at", "last_used_at", "revoked"]
    list_filter = ["revoked"]
    fields = ["name", "revoked", "prefix", "created_at", "last_used_at"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]

    def has_delete_permission(self, request, obj=None):
        # Revoked, not deleted: the orders placed with a key keep naming it
        # (PROTECT), and the delete page would list every one of them.
        return False

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        raw_key = obj.issue()
        messages.warning(
            request, f"The API key for {obj.name} is {raw_key}. Copy it now: it is not shown again."
        )
