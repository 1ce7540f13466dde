"""For any path of prices, a limit order triggers exactly when, and as soon
as, the best executable price for its whole amount reaches its limit."""

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orders import services, triggers
from orders.models import Order, OrderStatus
from routing.router import execute_route, simulate_route
from routing.seed import reset_market
from routing.tokens import TOKENS

SOL, USDC = TOKENS["SOL"], TOKENS["USDC"]
AMOUNT = Decimal("25")


def executable_price() -> Decimal:
    route = simulate_route(token_in=SOL, token_out=USDC, amount_in=SOL.to_base_units(AMOUNT))
    return USDC.from_base_units(route.expected_amount_out) / AMOUNT


def trade(sell_sol: bool, size: int) -> None:
    """Another trader's swap, through the same pools and the same code."""
    token_in, token_out = (SOL, USDC) if sell_sol else (USDC, SOL)
    amount = SOL.to_base_units(Decimal(size)) if sell_sol else USDC.to_base_units(Decimal(size * 150))
    route = simulate_route(token_in=token_in, token_out=token_out, amount_in=amount)
    execute_route(route=route, min_amount_out=0)


PATHS = st.lists(st.tuples(st.booleans(), st.integers(min_value=1, max_value=900)), min_size=1, max_size=8)


@pytest.mark.django_db(transaction=True)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=PATHS, distance_bps=st.integers(min_value=-50, max_value=300))
def test_a_limit_order_triggers_if_and_only_if_the_path_crosses(no_engine, path, distance_bps):
    reset_market()
    Order.objects.all().delete()
    limit = (executable_price() * (1 + Decimal(distance_bps) / 10_000)).quantize(Decimal("0.000001"))
    order, _ = services.order_place(
        amount=AMOUNT, token_in="SOL", token_out="USDC", order_type="limit", limit_price=limit
    )

    crossed_at = 0 if executable_price() >= limit else None
    triggered_at = 0 if Order.objects.get(pk=order.pk).triggered_at else None
    for step, (sell_sol, size) in enumerate(path, start=1):
        trade(sell_sol, size)  # the pools_changed signal checks the order after commit
        if crossed_at is None and executable_price() >= limit:
            crossed_at = step
        if triggered_at is None and Order.objects.get(pk=order.pk).triggered_at:
            triggered_at = step

    assert triggered_at == crossed_at
    assert Order.objects.get(pk=order.pk).status == OrderStatus.WAITING
    assert triggers.limit_floor(order) == int(
        (AMOUNT * limit * 10**6).to_integral_value(rounding="ROUND_CEILING")
    )
