"""The steps of executing one order against the market in `routing`.

Each step reads the order, calls the router, and records the outcome through
the services. A permanent routing error fails the order here; a transient one
is raised as TransientFailure for the job layer's retry policy.
"""

import logging
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from orders import services, triggers
from orders.models import Order, OrderStatus
from orders.serializers import decimal_str
from routing import mock
from routing.errors import RoutingError, SlippageExceeded
from routing.router import Route, execute_route, find_route
from routing.tokens import resolve_token

log = logging.getLogger(__name__)

PRICE_PLACES = Decimal(10) ** -12


class TransientFailure(Exception):
    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


class _AlreadySettled(Exception):
    """Another run confirmed this order first; roll our swap back."""


def _permanent_or_transient(order: Order, error: RoutingError) -> None:
    if error.transient:
        raise TransientFailure(str(error), error.code)
    services.order_fail(order=order, error=str(error), code=error.code)


def route(order: Order) -> bool:
    """routing -> building: quote every venue and choose the best route."""
    token_in, token_out = resolve_token(order.token_in), resolve_token(order.token_out)
    try:
        # The quotes' latency was waited out on a timer (orders.jobs).
        chosen = find_route(
            token_in=token_in, token_out=token_out, amount_in=token_in.to_base_units(order.amount), wait=False
        )
    except RoutingError as error:
        _permanent_or_transient(order, error)
        return False
    minimum = max(chosen.min_amount_out(order.slippage_bps), triggers.limit_floor(order))
    if chosen.expected_amount_out < minimum:
        # A limit or sniper order whose price moved away after it triggered.
        services.order_fail(
            order=order,
            error=(
                f"The best route now returns {token_out.from_base_units(chosen.expected_amount_out)} "
                f"{token_out.symbol}, below the order's floor of {token_out.from_base_units(minimum)}."
            ),
            code=SlippageExceeded.code,
        )
        return False
    quotes = [
        {
            "dex": quote.dex,
            "amountOut": decimal_str(token_out.from_base_units(quote.amount_out)),
            "feeBps": quote.fee_bps,
            "priceImpactBps": quote.price_impact_bps,
        }
        for quote in chosen.quotes
    ]
    return services.order_transition(
        order=order,
        to=OrderStatus.BUILDING,
        # SOL is native; the swap program only takes SPL tokens, so it is wrapped.
        extra={"wrapSol": token_in.symbol == "SOL"},
        dex=chosen.dex,
        quotes=quotes,
        route=chosen.to_json(),
        expected_amount_out=token_out.from_base_units(chosen.expected_amount_out),
        min_amount_out=token_out.from_base_units(minimum),
    )


def submit(order: Order) -> bool:
    """building -> submitted: sign and send the transaction."""
    try:
        mock.network_call(order.dex, "submit")
    except RoutingError as error:
        _permanent_or_transient(order, error)
        return False
    return services.order_transition(
        order=order,
        to=OrderStatus.SUBMITTED,
        tx_hash=mock.new_signature(),
        settles_at=timezone.now() + timedelta(seconds=mock.swap_latency_seconds()),
    )


def settle(order: Order) -> bool:
    """submitted -> confirmed: the swap executes against the pools as they are
    now. The swap and the confirmation commit together, or neither does, so a
    settlement that runs twice swaps once."""
    chosen = Route.from_json(order.route)
    token_out = chosen.token_out
    minimum = token_out.to_base_units(order.min_amount_out)
    try:
        with transaction.atomic():
            amount_out = execute_route(route=chosen, min_amount_out=minimum)
            received = token_out.from_base_units(amount_out)
            confirmed = services.order_transition(
                order=order,
                to=OrderStatus.CONFIRMED,
                amount_out=received,
                executed_price=(received / order.amount).quantize(PRICE_PLACES),
            )
            if not confirmed:
                raise _AlreadySettled
    except _AlreadySettled:
        return False
    except SlippageExceeded as error:
        services.order_fail(order=order, error=str(error), code=error.code)
        return False
    except RoutingError as error:
        _permanent_or_transient(order, error)
        return False
    return True
