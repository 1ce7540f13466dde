import hashlib
import json
import time
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection
from django.http import Http404
from django.shortcuts import get_object_or_404
from redis.exceptions import RedisError
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from orders import dispatch, services
from orders.api import schema
from orders.api.auth import NOBODY_IN_PARTICULAR, NOT_THE_OWNER, Placer
from orders.api.errors import error_body, service_unavailable
from orders.api.parsers import DecimalJSONParser
from orders.api.throttling import PlacementThrottle, QuoteThrottle
from orders.api.validation import OrderRequestSerializer
from orders.models import Order, OrderStatus
from orders.serializers import decimal_str, leg_amounts, order_to_dict
from orders.worker import workers_alive
from routing.errors import RoutingError
from routing.router import find_route


def ws_url(request, order_id) -> str:
    scheme = "wss" if request.is_secure() else "ws"
    return f"{scheme}://{request.get_host()}/ws/orders/{order_id}"


def fingerprint(data: dict) -> str:
    """What makes two requests the same order: "2" and 2.0 are one amount,
    "sol" and SOL's mint one token."""
    canonical = {
        key: decimal_str(value) if isinstance(value, Decimal) else getattr(value, "symbol", value)
        for key, value in data.items()
    }
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


def place_order(data, *, idempotency_key: str | None = None, placer: Placer = NOBODY_IN_PARTICULAR) -> Order:
    """Validate and place one order, as `placer`'s; shared by the REST view,
    the WebSocket and the dashboard. Raises ValidationError,
    services.IdempotencyConflict or BackPressure."""
    # A request sent again with its Idempotency-Key gets the order it placed,
    # whatever the market has done since: a sniper's token launched, say.
    earlier = services.order_for_idempotency_key(idempotency_key)
    request = OrderRequestSerializer(data=data, context={"replay": earlier is not None})
    request.is_valid(raise_exception=True)
    valid = request.validated_data
    if earlier is None:
        check_backlog()
    order, _created = services.order_place(
        amount=valid["amount"],
        token_in=valid["tokenIn"].symbol,
        token_out=valid["tokenOut"].symbol,
        slippage_bps=valid["slippageBps"],
        order_type=valid["type"],
        limit_price=valid.get("limitPrice"),
        max_price=valid.get("maxPrice"),
        expires_in_seconds=valid.get("expiresInSeconds"),
        idempotency_key=idempotency_key,
        fingerprint=fingerprint(valid) if idempotency_key else "",
        replay_of=earlier,
        **placer.owner_fields(),
    )
    return order


class BackPressure(Exception):
    pass


class Backlog:
    """The pending orders, as this process last counted them plus what it has
    placed since. A COUNT(*) per placement was 6 % of a web process's time;
    far from MAX_PENDING_ORDERS a count a second old is close enough, and
    near it every placement counts again."""

    RECOUNT_SECONDS = 1.0

    def __init__(self):
        self.estimate, self.counted_at = 0, float("-inf")

    def check(self) -> None:
        limit = settings.MAX_PENDING_ORDERS
        stale = time.monotonic() - self.counted_at > self.RECOUNT_SECONDS
        if stale or self.estimate >= limit * 0.9:
            self.estimate = Order.objects.filter(status=OrderStatus.PENDING).count()
            self.counted_at = time.monotonic()
        if self.estimate >= limit:
            raise BackPressure(f"The engine has {self.estimate} orders waiting; try again shortly.")
        self.estimate += 1


check_backlog = Backlog().check


class OrderExecuteView(APIView):
    parser_classes = [DecimalJSONParser]
    throttle_classes = [PlacementThrottle]

    @schema.execute_order
    def post(self, request):
        key = request.headers.get("Idempotency-Key") or None
        if key is not None and len(key) > 255:
            raise ValidationError({"Idempotency-Key": ["must be at most 255 characters"]})
        try:
            order = place_order(request.data, idempotency_key=key, placer=Placer.of(request))
        except services.IdempotencyConflict as conflict:
            return Response(error_body(str(conflict)), status=status.HTTP_409_CONFLICT)
        except BackPressure as busy:
            return service_unavailable(str(busy))
        return Response(
            {"orderId": str(order.id), "status": order.status, "wsUrl": ws_url(request, order.id)},
            status=status.HTTP_202_ACCEPTED,
        )


def order_with_history_or_404(order_id) -> tuple[Order, list]:
    """The order and its history, read in one statement so they agree
    (Order.with_history); a 404 if there is no such order."""
    found = Order.with_history(order_id)
    if found is None:
        raise Http404("No Order matches the given query.")
    return found


class OrderDetailView(APIView):
    @schema.order_detail
    def get(self, request, order_id):
        order, events = order_with_history_or_404(order_id)
        return Response(order_to_dict(order, events=events))


class OrderCancelView(APIView):
    @schema.cancel_order
    def post(self, request, order_id):
        order = get_object_or_404(Order, pk=order_id)
        if not Placer.of(request).may_cancel(order):
            return Response(error_body(NOT_THE_OWNER), status=status.HTTP_403_FORBIDDEN)
        if not services.order_cancel(order=order):
            order.refresh_from_db()
            return Response(
                error_body(f"The order is {order.status}: only pending or waiting orders can be cancelled."),
                status=status.HTTP_409_CONFLICT,
            )
        return Response(order_to_dict(order))


class NewestFirst(CursorPagination):
    ordering = "-created_at"
    page_size_query_param = "limit"
    max_page_size = 200

    def paginate_queryset(self, queryset, request, view=None):
        # DRF decodes a cursor's position without checking it: an edited or
        # cut `next` link reaches the database as a date it cannot read.
        try:
            return super().paginate_queryset(queryset, request, view)
        except (DjangoValidationError, OverflowError):  # OverflowError: a date at the calendar's end
            raise NotFound(self.invalid_cursor_message) from None


class OrderListView(APIView):
    @schema.order_list
    def get(self, request):
        orders = Order.objects.all()
        wanted = request.query_params.get("status")
        if wanted:
            if wanted not in OrderStatus.values:
                raise ValidationError({"status": [f"must be one of {', '.join(OrderStatus.values)}"]})
            orders = orders.filter(status=wanted)
        paginator = NewestFirst()
        page = paginator.paginate_queryset(orders, request, view=self)
        listed = Order.with_histories(page)
        if wanted:
            # Each order as its history was read, which an order that moved
            # on since the page was read no longer matches.
            listed = [(order, events) for order, events in listed if order.status == wanted]
        results = [order_to_dict(order, events=events) for order, events in listed]
        return paginator.get_paginated_response(results)


class QuoteView(APIView):
    throttle_classes = [QuoteThrottle]

    @schema.quote
    def get(self, request):
        serializer = OrderRequestSerializer(
            data={
                key: request.query_params[key]
                for key in ("amount", "tokenIn", "tokenOut")
                if key in request.query_params
            }
        )
        serializer.is_valid(raise_exception=True)
        token_in, token_out = serializer.validated_data["tokenIn"], serializer.validated_data["tokenOut"]
        amount = serializer.validated_data["amount"]
        try:
            route = find_route(
                token_in=token_in, token_out=token_out, amount_in=token_in.to_base_units(amount)
            )
        except RoutingError as error:
            if error.transient:
                unavailable = service_unavailable(str(error), retry_after=1)
                unavailable.data["errorCode"] = error.code
                return unavailable
            body = error_body(str(error)) | {"errorCode": error.code}
            return Response(body, status=status.HTTP_422_UNPROCESSABLE_ENTITY)
        out = token_out.from_base_units
        return Response(
            {
                "tokenIn": token_in.symbol,
                "tokenOut": token_out.symbol,
                "amount": decimal_str(amount),
                "quotes": [
                    {
                        "dex": quote.dex,
                        "amountOut": decimal_str(out(quote.amount_out)),
                        "priceImpactBps": quote.price_impact_bps,
                        "feeBps": quote.fee_bps,
                    }
                    for quote in route.quotes
                ],
                "best": {
                    "dex": route.dex,
                    "amountOut": decimal_str(out(route.expected_amount_out)),
                    "split": [
                        {
                            "dex": leg.dex,
                            **leg_amounts(token_in, token_out, leg.amount_in, leg.amount_out),
                            "shareBps": leg.share_bps,
                        }
                        for leg in route.legs
                    ],
                },
            }
        )


class HealthView(APIView):
    @schema.health
    def get(self, request):
        report, down = {}, []
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            report["database"] = "ok"
        except Exception as exc:
            report["database"] = f"down: {exc.__class__.__name__}"
            down.append("database")
        try:
            redis = dispatch.redis()
            redis.ping()
            report["redis"] = "ok"
            # A count, as the contract has it; none is down: orders would
            # be accepted and stay pending.
            report["workers"] = workers_alive(dispatch.queue())
            if not report["workers"]:
                down.append("workers (none registered)")
            if dispatch.clock_heard_from():
                report["clock"] = "ok"
            else:
                report["clock"] = f"down: not heard from for {dispatch.CLOCK_ALIVE_SECONDS} s"
                down.append("clock")
        except RedisError as exc:
            report["redis"], report["workers"] = f"down: {exc.__class__.__name__}", 0
            down.append("redis")
        if down:
            report["error"] = f"Not healthy: {', '.join(down)} unavailable."
            return Response(report, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        return Response(report)
