"""The fewest base units an order accepts at its trigger price: a limit
order never fills below its limit, a sniper never pays more than its
maximum price, to the last base unit and for amounts of any length."""

from decimal import Context, Decimal, localcontext

import pytest

from orders import triggers
from orders.models import Order, OrderType
from routing.tokens import TOKENS

UNITS = 10 ** TOKENS["USDC"].decimals
AMOUNTS = [Decimal("1"), Decimal("3"), Decimal("0.7"), Decimal("123456789.123456789123456789")]
WIDE = Context(prec=200)
PRICES = [Decimal("0.3"), Decimal("7"), Decimal("152.123456789012345678"), Decimal("0.000000000000000001")]


@pytest.mark.parametrize("amount", AMOUNTS)
@pytest.mark.parametrize("max_price", PRICES)
def test_a_sniper_at_its_floor_pays_at_most_its_maximum_price(amount, max_price):
    order = Order(type=OrderType.SNIPER, token_in="SOL", token_out="USDC", amount=amount, max_price=max_price)

    floor = triggers.limit_floor(order)

    with localcontext(WIDE):  # every product below exact
        # amount / (floor / UNITS) <= max_price, and one base unit fewer pays more.
        assert amount * UNITS <= floor * max_price
        assert amount * UNITS > (floor - 1) * max_price


@pytest.mark.parametrize("amount", AMOUNTS)
@pytest.mark.parametrize("limit_price", PRICES)
def test_a_limit_order_at_its_floor_gets_at_least_its_limit(amount, limit_price):
    order = Order(
        type=OrderType.LIMIT, token_in="SOL", token_out="USDC", amount=amount, limit_price=limit_price
    )

    floor = triggers.limit_floor(order)

    with localcontext(WIDE):
        assert floor >= amount * limit_price * UNITS
        assert floor - 1 < amount * limit_price * UNITS
