"""Dashboard pages: the order form (market, limit and sniper orders), the
live order table, one order's detail and the market panel.

Pages are rendered on the server and work without JavaScript; the small
scripts in orders/static/orders/ make them live (quotes as you type, the
WebSocket feeds). Orders are placed through the same validation as the REST
API (`place_order`), so the form and the API cannot disagree.
"""

import json
import re
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from rest_framework.exceptions import ValidationError

from orders import services
from orders.api.auth import NOT_THE_OWNER, Placer
from orders.api.errors import _flatten
from orders.api.throttling import PlacementThrottle, too_many_orders
from orders.api.validation import DECIMAL_TEXT, MAX_SLIPPAGE_BPS
from orders.api.views import BackPressure, order_with_history_or_404, place_order
from orders.models import LIFECYCLE, TERMINAL_STATUSES, Order, OrderStatus, OrderType
from orders.serializers import order_to_dict
from orders.templatetags.orders_format import amount as fmt_amount
from orders.templatetags.orders_format import price as fmt_price
from routing.launch import QUOTE_TOKEN, launchable_tokens
from routing.market import best_spot_price, pool_summaries, to_decimal
from routing.models import Pool
from routing.tokens import TOKENS

RECENT_ORDERS = 50
# The progress bar has five steps. `waiting` (limit and sniper orders) shares
# the first one with `pending`: it is drawn as "armed" until the trigger fires.
STEPS = [str(status) for status in LIFECYCLE if status != OrderStatus.WAITING]
ORDER_TYPES = [(OrderType.MARKET, "Market"), (OrderType.LIMIT, "Limit"), (OrderType.SNIPER, "Sniper")]
EXPIRY_CHOICES = [
    (600, "10 minutes"),
    (3600, "1 hour"),
    (6 * 3600, "6 hours"),
    (86400, "1 day"),
    (7 * 86400, "7 days"),
]


def _form_defaults() -> dict:
    return {
        "type": OrderType.MARKET,
        "tokenIn": "SOL",
        "tokenOut": "USDC",
        "amount": "",
        "slippage": "0.5",
        "slippageUnit": "pct",
        "limitPrice": "",
        "maxPrice": "",
        "expiresIn": str(settings.DEFAULT_ORDER_EXPIRY_SECONDS),
        "snipeToken": "",
    }


WHOLE_SECONDS = re.compile(r"\s*[+-]?\d+\s*", re.ASCII)


def _expiry_seconds(value: str) -> int:
    # int() alone also reads "3_600" and digits of other scripts.
    if not WHOLE_SECONDS.fullmatch(value):
        raise ValidationError({"expiresInSeconds": ["must be a whole number of seconds"]})
    return int(value)


def _order_request(form: dict) -> dict:
    """The REST request the form stands for: only the fields its type takes."""
    order_type = form["type"]
    data = {
        "type": order_type,
        "amount": form["amount"],
        "tokenIn": form["tokenIn"],
        "tokenOut": form["tokenOut"],
    }
    data["slippageBps"] = _slippage_bps(form["slippage"], form["slippageUnit"])
    if order_type == OrderType.LIMIT:
        if form["limitPrice"]:
            data["limitPrice"] = form["limitPrice"]
        data["expiresInSeconds"] = _expiry_seconds(form["expiresIn"])
    elif order_type == OrderType.SNIPER:
        # New tokens launch against SOL, so a sniper always pays in SOL.
        data["tokenIn"], data["tokenOut"] = QUOTE_TOKEN, form["snipeToken"]
        if form["maxPrice"]:
            data["maxPrice"] = form["maxPrice"]
        data["expiresInSeconds"] = _expiry_seconds(form["expiresIn"])
    return data


def _slippage_bps(value: str, unit: str) -> int:
    """The form takes slippage in percent or in basis points; the API takes bps."""
    not_a_number = ValidationError({"slippageBps": ["must be a number, like 0.5 (%) or 50 (bps)"]})
    if not DECIMAL_TEXT.fullmatch(value.strip()):
        raise not_a_number
    try:
        number = Decimal(value.strip())
        bps = number * 100 if unit == "pct" else number
    except ArithmeticError:  # a signalling NaN, or an exponent past Decimal's range
        raise not_a_number from None
    # Range first: int() of a huge integral value (1e999999999) would take minutes.
    if not bps.is_finite() or not 0 <= bps <= MAX_SLIPPAGE_BPS:
        raise ValidationError({"slippageBps": [f"must be from 0 to {MAX_SLIPPAGE_BPS} bps (100%)"]})
    if bps != bps.to_integral_value():
        raise ValidationError({"slippageBps": ["must be a whole number of basis points (0.01% steps)"]})
    return int(bps)


def _page_context(request, **extra) -> dict:
    orders = Order.with_histories(Order.objects.all()[:RECENT_ORDERS])
    launchable = _launchable()
    # Market and limit orders pick from the tokens that trade; a token still
    # waiting for its first pool is offered to sniper orders only.
    trading = [token for symbol, token in TOKENS.items() if symbol not in launchable] or list(TOKENS.values())
    prices = _best_prices()
    return {
        "tokens": trading,
        "launchable": launchable,
        "order_types": ORDER_TYPES,
        "expiry_choices": _expiry_choices(),
        "token_decimals": {symbol: token.decimals for symbol, token in TOKENS.items()},
        "orders": [_row(request, order, events, prices) for order, events in orders],
        "pools": _pools(),
        "may_place": _may_place(request),
        **extra,
    }


def _expiry_choices() -> list[tuple[int, str]]:
    """The presets, and the configured default when it is not one of them."""
    default = settings.DEFAULT_ORDER_EXPIRY_SECONDS
    if default in dict(EXPIRY_CHOICES):
        return EXPIRY_CHOICES
    return sorted([*EXPIRY_CHOICES, (default, f"{default} seconds (default)")])


def _launchable() -> list[str]:
    try:
        return launchable_tokens()
    except Exception:  # noqa: BLE001 -- as for _pools: the form must still render
        return []


def _pools() -> list[dict]:
    # The market panel is a nicety; a market that cannot be read must not
    # take the order form down with it.
    try:
        return pool_summaries()
    except Exception:  # noqa: BLE001
        return []


def _best_prices() -> dict[str, Decimal]:
    """The best spot price of every traded pair, both ways: {"SOL/USDC":
    USDC per SOL, "USDC/SOL": SOL per USDC, ...}. An upper bound of what any
    order gets: fees and price impact only lower it."""
    try:
        pairs = set(Pool.objects.values_list("token_a", "token_b"))
        prices = {}
        for token_a, token_b in pairs:
            for pay, get in ((token_a, token_b), (token_b, token_a)):
                price = best_spot_price(TOKENS[pay], TOKENS[get])
                if price:
                    prices[f"{pay}/{get}"] = to_decimal(price)
        return prices
    except Exception:  # noqa: BLE001 -- as for _pools
        return {}


def _row(request, order: Order, events: list, prices: dict) -> dict:
    data = order_to_dict(order, events=events)
    data["createdAtDate"] = order.created_at
    data["progress"] = _progress(data)
    data["trigger"] = _trigger(data, prices)
    data["cancellable"] = _cancellable(request, order, data)
    return data


def _cancellable(request, order: Order, data: dict) -> bool:
    """Whether to offer this viewer a Cancel button: an armed order (market
    orders are pending for a blink), that they may cancel (order_cancel's rule)."""
    armed = data["status"] == OrderStatus.WAITING or (
        data["status"] == OrderStatus.PENDING and data["type"] != OrderType.MARKET
    )
    return armed and _may_place(request) and Placer.of(request).may_cancel(order)


def _percent(value: Decimal) -> str:
    return f"{value:.2f}" if abs(value) < 1 else f"{value:.1f}"


def _trigger(data: dict, prices: dict) -> dict | None:
    """What a limit or sniper order waits for and, while it waits, how far
    the market is from it; the same rule as trigger() in app.js."""
    pay, get = data["tokenIn"], data["tokenOut"]
    armed = data["status"] in (OrderStatus.PENDING, OrderStatus.WAITING)
    if data["type"] == OrderType.LIMIT and data["limitPrice"]:
        limit = Decimal(data["limitPrice"])
        text, distance = f"Limit {fmt_amount(limit)} {get} per {pay}", None
        if armed:
            current = prices.get(f"{pay}/{get}")
            if current is None:
                distance = f"no pool trades {pay}/{get} now"
            elif current < limit:
                gap = (limit - current) / limit * 100
                distance = f"current best {fmt_price(current)}, {_percent(gap)} % below the limit"
            else:
                distance = f"current best {fmt_price(current)}: at the limit before fees and price impact"
        return {"text": text, "distance": distance}
    if data["type"] == OrderType.SNIPER:
        text = f"Waits for {get}'s first pool"
        if data["maxPrice"]:
            text += f" · at most {fmt_amount(data['maxPrice'])} {pay} per {get}"
        distance = None
        if armed:
            current = prices.get(f"{get}/{pay}")
            distance = (
                f"{get} is not trading yet"
                if current is None
                else f"{get} trades at {fmt_price(current)} {pay} per {get}"
            )
        return {"text": text, "distance": distance}
    return None


def _step_of(status: str) -> int:
    """Which of the five steps a status belongs to (-1: none)."""
    if status == OrderStatus.WAITING:
        return 0
    return STEPS.index(status) if status in STEPS else -1


def _progress(data: dict) -> list[dict]:
    """The five steps and how far the order got; the same rule as progress() in app.js."""
    reached, status = _reached(data), data["status"]
    first = "waiting" if data.get("type", OrderType.MARKET) != OrderType.MARKET else STEPS[0]
    steps = []
    for index, name in enumerate(STEPS):
        state = ""
        if status == OrderStatus.CANCELLED:
            state = "cancelled"  # the whole bar greys out: closed before it ran
        elif index < reached:
            if status == OrderStatus.FAILED:
                state = "failed"
            elif status == OrderStatus.WAITING:
                state = "armed"
            elif status == OrderStatus.CONFIRMED or index < reached - 1:
                state = "done"
            else:
                state = "current"
        steps.append({"name": first if index == 0 else name, "state": state})
    return steps


def _reached(data: dict) -> int:
    """How many of the five steps the order's current attempt has reached."""
    reached = 0
    for entry in data["history"]:
        if entry.get("attempt", 1) == data["attempt"]:
            reached = max(reached, _step_of(entry["status"]) + 1)
    return max(reached, _step_of(data["status"]) + 1)


def _may_place(request) -> bool:
    """The same rule as the REST API's (orders.api.auth.MayPlaceOrders) for a
    browser: with API keys required, a dashboard user must be logged in."""
    return not getattr(settings, "API_KEYS_REQUIRED", False) or Placer.of(request).identified


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
    # The same budget as REST and the placement socket: the form is a third way in.
    limit = PlacementThrottle()
    if not limit.allow_request(request, None):
        errors = {"non_field_errors": [too_many_orders(limit.wait_seconds)]}
        response = render(
            request, "orders/dashboard.html", _page_context(request, form=form, errors=errors), status=429
        )
        response["Retry-After"] = str(limit.wait())
        return response
    try:
        order = place_order(_order_request(form), placer=Placer.of(request))
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
                # Not below 0: two hosts' clocks stamped the steps, and the
                # history is in the order they were written.
                "durationMs": max(0, round((following - moments[index]).total_seconds() * 1000))
                if following
                else None,
                "terminal": entry["status"] in TERMINAL_STATUSES,
            }
        )
    return steps


def _detail_context(request, order: Order, events: list, **extra) -> dict:
    data = order_to_dict(order, events=events)
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
        "legs": data["route"] or [],
        "timeline": timeline,
        "total_ms": total,
        "progress": _progress(data),
        "trigger": _trigger(data, _best_prices()) if order.type != OrderType.MARKET else None,
        "cancellable": _cancellable(request, order, data),
        "expires_at": order.expires_at,
        "triggered_at": order.triggered_at,
        "terminal": order.is_terminal,
        **extra,
    }


@require_GET
def order_page(request, order_id):
    order, events = order_with_history_or_404(order_id)
    context = _detail_context(request, order, events)
    if request.GET.get("fragment"):
        # The live page swaps this in when the order's socket reports a change,
        # so the server's template stays the one way an order is drawn.
        return render(request, "orders/_order_body.html", context)
    context["order_json"] = json.dumps({"orderId": str(order.id), "status": order.status})
    return render(request, "orders/order_detail.html", context)


@require_POST
def order_cancel(request, order_id):
    """The order page's Cancel button without JavaScript; with it, the page
    calls POST /api/orders/<id>/cancel. Same rule as the API: pending or
    waiting orders only, and a login when API keys are required."""
    if not _may_place(request):
        return _cancel_refused(request, order_id, 403, "Log in to cancel orders from the dashboard.")
    order = get_object_or_404(Order, pk=order_id)
    if not Placer.of(request).may_cancel(order):
        return _cancel_refused(request, order_id, 403, NOT_THE_OWNER)
    if services.order_cancel(order=order):
        return redirect("order-page", order_id=order.id)
    return _cancel_refused(request, order_id, 409)


def _cancel_refused(request, order_id, status: int, error: str = ""):
    """The order page as it is now (its history read only here: a cancel
    that succeeds redirects), with why the order was not cancelled."""
    order, events = order_with_history_or_404(order_id)
    error = error or f"The order is {order.status}: only pending or waiting orders can be cancelled."
    context = _detail_context(request, order, events, cancel_error=error)
    return render(request, "orders/order_detail.html", context, status=status)


@require_GET
def market_json(request):
    """The market panel's data, and the best price of each pair both ways
    ("SOL/USDC": USDC per SOL), from which waiting orders show their distance
    to the trigger."""
    prices = {pair: str(price) for pair, price in _best_prices().items()}
    return JsonResponse({"pools": _pools(), "prices": prices})
