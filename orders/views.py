"""Dashboard pages: the order form, the live order table, one order's detail
and the market panel.

Pages are rendered on the server and work without JavaScript; the small
scripts in orders/static/orders/ make them live (quotes as you type, the
WebSocket feeds). Orders are placed through the same validation as the REST
API (`place_order`), so the form and the API cannot disagree.
"""

import json
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods
from rest_framework.exceptions import ValidationError

from orders.api.errors import _flatten
from orders.api.views import BackPressure, place_order
from orders.models import LIFECYCLE, TERMINAL_STATUSES, Order
from orders.serializers import order_to_dict
from routing.market import pool_summaries
from routing.tokens import TOKENS

RECENT_ORDERS = 50
STEPS = [str(status) for status in LIFECYCLE]


def _form_defaults() -> dict:
    return {"tokenIn": "SOL", "tokenOut": "USDC", "amount": "", "slippage": "0.5", "slippageUnit": "pct"}


def _slippage_bps(value: str, unit: str) -> int:
    """The form takes slippage in percent or in basis points; the API takes bps."""
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        raise ValidationError({"slippageBps": ["must be a number, like 0.5 (%) or 50 (bps)"]}) from None
    bps = number * 100 if unit == "pct" else number
    if not bps.is_finite() or bps != bps.to_integral_value():
        raise ValidationError({"slippageBps": ["must be a whole number of basis points (0.01% steps)"]})
    return int(bps)


def _page_context(request, **extra) -> dict:
    orders = Order.objects.prefetch_related("events")[:RECENT_ORDERS]
    return {
        "tokens": TOKENS.values(),
        "token_decimals": {symbol: token.decimals for symbol, token in TOKENS.items()},
        "orders": [_row(order) for order in orders],
        "pools": _pools(),
        "steps": STEPS,
        "may_place": _may_place(request),
        **extra,
    }


def _pools() -> list[dict]:
    # The market panel is a nicety; a market that cannot be read must not
    # take the order form down with it.
    try:
        return pool_summaries()
    except Exception:  # noqa: BLE001
        return []


def _row(order: Order) -> dict:
    data = order_to_dict(order)
    data["createdAtDate"] = order.created_at
    data["progress"] = _progress(data)
    return data


def _progress(data: dict) -> list[dict]:
    """The five steps and how far the order got; the same rule as progress() in app.js."""
    reached, status = _reached(data), data["status"]
    steps = []
    for index, name in enumerate(STEPS):
        state = ""
        if index < reached:
            if status in ("failed", "cancelled"):
                state = status
            elif status == "confirmed" or index < reached - 1:
                state = "done"
            else:
                state = "current"
        steps.append({"name": name, "state": state})
    return steps


def _reached(data: dict) -> int:
    """How many of the five steps the order's current attempt has reached."""
    reached = 0
    for entry in data["history"]:
        if entry["status"] in STEPS and entry.get("attempt", 1) == data["attempt"]:
            reached = max(reached, STEPS.index(entry["status"]) + 1)
    if data["status"] in STEPS:
        reached = max(reached, STEPS.index(data["status"]) + 1)
    return reached


def _may_place(request) -> bool:
    """The same rule as the REST API's (orders.api.auth.MayPlaceOrders) for a
    browser: with API keys required, a dashboard user must be logged in."""
    return not getattr(settings, "API_KEYS_REQUIRED", False) or request.user.is_authenticated


@require_http_methods(["GET", "POST"])
def dashboard(request):
    if request.method == "GET":
        context = _page_context(request, form=_form_defaults(), errors={})
        return render(request, "orders/dashboard.html", context)

    form = {key: request.POST.get(key, default).strip() for key, default in _form_defaults().items()}
    errors: dict[str, list[str]] = {}
    status = 400
    if not _may_place(request):
        errors = {"non_field_errors": ["Log in to place orders from the dashboard."]}
        context = _page_context(request, form=form, errors=errors)
        return render(request, "orders/dashboard.html", context, status=403)
    try:
        data = {"amount": form["amount"], "tokenIn": form["tokenIn"], "tokenOut": form["tokenOut"]}
        data["slippageBps"] = _slippage_bps(form["slippage"], form["slippageUnit"])
        order = place_order(data)
    except ValidationError as invalid:
        errors = _flatten(invalid.detail)
    except BackPressure as busy:
        errors, status = {"non_field_errors": [str(busy)]}, 503
    else:
        return redirect("order-page", order_id=order.id)
    context = _page_context(request, form=form, errors=errors)
    return render(request, "orders/dashboard.html", context, status=status)


def _timeline(data: dict) -> list[dict]:
    """History entries with how long each step took (until the next one)."""
    history = data["history"]
    moments = [datetime.fromisoformat(entry["at"].replace("Z", "+00:00")) for entry in history]
    steps = []
    for index, entry in enumerate(history):
        following = moments[index + 1] if index + 1 < len(history) else None
        steps.append(
            {
                **entry,
                "atDate": moments[index],
                "durationMs": round((following - moments[index]).total_seconds() * 1000)
                if following
                else None,
                "terminal": entry["status"] in TERMINAL_STATUSES,
            }
        )
    return steps


def _detail_context(order: Order) -> dict:
    data = order_to_dict(order)
    token_in, token_out = TOKENS.get(order.token_in), TOKENS.get(order.token_out)
    legs = []
    for leg in data["route"] or []:
        # Route legs are stored in base units, exactly as the router built them.
        legs.append(
            {
                "dex": leg["dex"],
                "shareBps": leg["shareBps"],
                "amountIn": token_in.from_base_units(int(leg["amountIn"])) if token_in else leg["amountIn"],
                "amountOut": token_out.from_base_units(int(leg["amountOut"]))
                if token_out
                else leg["amountOut"],
            }
        )
    quotes = sorted(data["quotes"] or [], key=lambda quote: quote["dex"])
    best = max((Decimal(quote["amountOut"]) for quote in quotes), default=None)
    for quote in quotes:
        quote["best"] = best is not None and Decimal(quote["amountOut"]) == best and best > 0
    timeline = _timeline(data)
    total = None
    if len(timeline) > 1 and order.is_terminal:
        total = round((timeline[-1]["atDate"] - timeline[0]["atDate"]).total_seconds() * 1000)
    return {
        "order": data,
        "quotes": quotes,
        "legs": legs,
        "timeline": timeline,
        "total_ms": total,
        "progress": _progress(data),
        "terminal": order.is_terminal,
    }


@require_GET
def order_page(request, order_id):
    order = get_object_or_404(Order.objects.prefetch_related("events"), pk=order_id)
    context = _detail_context(order)
    if request.GET.get("fragment"):
        # The live page swaps this in when the order's socket reports a change,
        # so the server's template stays the one way an order is drawn.
        return render(request, "orders/_order_body.html", context)
    context["order_json"] = json.dumps({"orderId": str(order.id), "status": order.status})
    return render(request, "orders/order_detail.html", context)


@require_GET
def market_json(request):
    return JsonResponse({"pools": _pools()})
