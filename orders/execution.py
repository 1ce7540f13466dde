"""The steps of executing an order against the market, from routing on.

Each step works on a `Move` (orders.services): it decides with the router on
a market session (routing.session), notes the status the order reaches, and
leaves the writing to the batch the job opened. A permanent routing error
fails the order here; a transient one is raised as TransientFailure for the
job layer's retry policy.
"""

import logging
from datetime import timedelta
from decimal import ROUND_DOWN, Context, Decimal

from django.utils import timezone

from orders import triggers
from orders.models import OrderStatus
from orders.serializers import decimal_str
from orders.services import Batch, Move
from routing import mock
from routing.errors import DexUnavailable, RoutingError, SlippageExceeded
from routing.routes import Route
from routing.session import MarketSession
from routing.tokens import resolve_token

log = logging.getLogger(__name__)

# As many places as a limit or maximum price may have (orders.api.validation),
# rounded down in a context wide enough for any amount: a limit order's
# executedPrice is then never shown below its limitPrice, however close the fill.
PRICE_PLACES = Decimal(10) ** -18
PRICE_ROUNDED_DOWN = Context(prec=80, rounding=ROUND_DOWN)


def executed_price(received: Decimal, amount: Decimal) -> Decimal:
    """tokenOut per tokenIn, as a limit order's limitPrice is (a sniper's
    maxPrice is the inverse: tokenIn per tokenOut)."""
    return PRICE_ROUNDED_DOWN.divide(received, amount).quantize(PRICE_PLACES, context=PRICE_ROUNDED_DOWN)


class TransientFailure(Exception):
    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


def fail(move: Move, *, error: str, code: str) -> None:
    move.reach(OrderStatus.FAILED, error=error, error_code=code)
    log.info("order %s failed: %s (%s)", move.order.id, error, code)


def _permanent_or_transient(move: Move, error: RoutingError) -> None:
    if error.transient:
        raise TransientFailure(str(error), error.code)
    fail(move, error=str(error), code=error.code)


def route(move: Move, session: MarketSession) -> None:
    """routing -> building: quote every venue and choose the best route."""
    order = move.order
    token_in, token_out = resolve_token(order.token_in), resolve_token(order.token_out)
    try:
        # The quotes' latency was waited out on a timer (orders.jobs).
        chosen = session.find_route(
            token_in=token_in, token_out=token_out, amount_in=token_in.to_base_units(order.amount), wait=False
        )
    except RoutingError as error:
        return _permanent_or_transient(move, error)
    minimum = max(chosen.min_amount_out(order.slippage_bps), triggers.limit_floor(order))
    if chosen.expected_amount_out < minimum:
        if chosen.unanswered:
            # The venue that did not answer may be the one whose price triggered the order.
            raise TransientFailure(
                f"The venues that answered return {token_out.from_base_units(chosen.expected_amount_out)} "
                f"{token_out.symbol}, below the order's floor of {token_out.from_base_units(minimum)} "
                f"({'; '.join(chosen.unanswered)}).",
                DexUnavailable.code,
            )
        # A limit or sniper order whose price moved away after it triggered.
        return fail(
            move,
            error=(
                f"The best route now returns {token_out.from_base_units(chosen.expected_amount_out)} "
                f"{token_out.symbol}, below the order's floor of {token_out.from_base_units(minimum)}."
            ),
            code=SlippageExceeded.code,
        )
    quotes = [
        {
            "dex": quote.dex,
            "amountOut": decimal_str(token_out.from_base_units(quote.amount_out)),
            "feeBps": quote.fee_bps,
            "priceImpactBps": quote.price_impact_bps,
        }
        for quote in chosen.quotes
    ]
    move.reach(
        OrderStatus.BUILDING,
        # SOL is native; the swap program only takes SPL tokens, so it is wrapped.
        extra={"wrapSol": token_in.symbol == "SOL"},
        dex=chosen.dex,
        quotes=quotes,
        route=chosen.to_json(),
        expected_amount_out=token_out.from_base_units(chosen.expected_amount_out),
        min_amount_out=token_out.from_base_units(minimum),
    )


def submit(move: Move) -> None:
    """building -> submitted: sign and send the transaction."""
    try:
        mock.network_call(move.order.dex, "submit")
    except RoutingError as error:
        return _permanent_or_transient(move, error)
    move.reach(
        OrderStatus.SUBMITTED,
        tx_hash=mock.new_signature(),
        settles_at=timezone.now() + timedelta(seconds=mock.swap_latency_seconds()),
    )


def settle(move: Move, session: MarketSession, moves: Batch) -> None:
    """submitted -> confirmed: the swap executes against the pools as they
    are now (the session holds them locked). The move is claimed here, before
    the swap is applied: a settlement that runs twice swaps once."""
    order = move.order
    chosen = Route.from_json(order.route)
    token_out = chosen.token_out
    try:
        fill = session.fill(chosen, min_amount_out=token_out.to_base_units(order.min_amount_out))
    except SlippageExceeded as error:
        return fail(move, error=str(error), code=error.code)
    except RoutingError as error:
        return _permanent_or_transient(move, error)
    received = token_out.from_base_units(fill.amount_out)
    move.reach(
        OrderStatus.CONFIRMED,
        amount_out=received,
        executed_price=executed_price(received, order.amount),
    )
    if moves.claim(move):
        session.apply(fill)
