"""executedPrice: amountOut / amount, tokenOut per tokenIn, to 18 decimal
places rounded down, so that a limit order's fill, never below its limit,
never reads below it either."""

from decimal import Decimal

from orders.execution import executed_price


def test_a_fill_just_above_the_limit_reads_above_it():
    # 1,000,000 BONK sold at a limit of 0.000000132998425 SOL each: the floor
    # is 0.132998425 SOL, and the fill beat it by 25 lamports.
    limit = Decimal("0.000000132998425")
    price = executed_price(Decimal("0.132998450"), Decimal("1000000"))

    assert price >= limit
    assert price == Decimal("0.000000132998450")


def test_the_price_is_rounded_down_to_18_places():
    assert executed_price(Decimal("1"), Decimal("3")) == Decimal("0.333333333333333333")
    assert executed_price(Decimal("2"), Decimal("3")) == Decimal("0.666666666666666666")


def test_a_price_of_any_size_is_written_whole():
    # 28 significant digits, the default context's, would not hold it at 18 places.
    assert executed_price(Decimal("123456789012345678"), Decimal("0.1")) == Decimal("1234567890123456780")
