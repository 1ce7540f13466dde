"""How orders look on the wire: camelCase, amounts as decimal strings."""

from decimal import Context, Decimal

from orders.models import Order, OrderEvent
from routing.tokens import TOKENS, Token

# Decimal's default context keeps 28 digits, and normalize() and quantize()
# round to it; a price may have 34 (15 before the point, 18 after).
EXACT = Context(prec=80)


def decimal_str(value: Decimal | None) -> str | None:
    if value is None:
        return None
    return format(value.normalize(EXACT), "f")


def isoformat(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def history_entry(event: OrderEvent) -> dict:
    return {"status": event.status, "at": isoformat(event.at), "attempt": event.attempt}


def status_message(event: OrderEvent) -> dict:
    """The status message a history row was broadcast as."""
    return {
        "type": "status",
        "orderId": str(event.order_id),
        "status": event.status,
        "at": isoformat(event.at),
        "attempt": event.attempt,
        **event.data,
    }


def leg_amounts(token_in: Token, token_out: Token, amount_in: int, amount_out: int) -> dict:
    """A route leg's amounts, from the base units the router works in to
    units of each token, as every amount on the wire is."""
    return {
        "amountIn": decimal_str(token_in.from_base_units(amount_in)),
        "amountOut": decimal_str(token_out.from_base_units(amount_out)),
    }


def route_legs(order: Order) -> list[dict] | None:
    """The route's legs, stored in base units exactly as the router built them."""
    if not order.route:
        return None
    token_in, token_out = TOKENS[order.token_in], TOKENS[order.token_out]
    return [
        {**leg, **leg_amounts(token_in, token_out, int(leg["amountIn"]), int(leg["amountOut"]))}
        for leg in order.route["legs"]
    ]


def order_fields(order: Order, *, route: bool = True) -> dict:
    """What an order says about its trade: the fields status messages carry
    (`route`: with its legs, which only `building` carries)."""
    return {
        "tokenIn": order.token_in,
        "tokenOut": order.token_out,
        "amount": decimal_str(order.amount),
        "slippageBps": order.slippage_bps,
        "dex": order.dex or None,
        "quotes": order.quotes,
        "route": route_legs(order) if route else None,
        "expectedAmountOut": decimal_str(order.expected_amount_out),
        "minAmountOut": decimal_str(order.min_amount_out),
        "amountOut": decimal_str(order.amount_out),
        "executedPrice": decimal_str(order.executed_price),
        "txHash": order.tx_hash or None,
        "error": order.error or None,
        "errorCode": order.error_code or None,
        "limitPrice": decimal_str(order.limit_price),
        "maxPrice": decimal_str(order.max_price),
        "expiresAt": isoformat(order.expires_at) if order.expires_at else None,
    }


def order_to_dict(order: Order, *, events: list[OrderEvent] | None = None) -> dict:
    if events is None:
        events = list(order.events.all())
    return {
        "orderId": str(order.id),
        "type": order.type,
        "status": order.status,
        **order_fields(order),
        "attempt": order.attempt,
        "triggeredAt": isoformat(order.triggered_at) if order.triggered_at else None,
        "createdAt": isoformat(order.created_at),
        "updatedAt": isoformat(order.updated_at),
        "history": [history_entry(event) for event in events],
    }
