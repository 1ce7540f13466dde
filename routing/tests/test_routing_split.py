"""Large orders are split across venues when that returns more."""

from hypothesis import given, settings
from hypothesis import strategies as st

from routing.errors import NoRoute
from routing.router import SPLIT, Venue, choose_route, find_route
from routing.tests.conftest import seeded_pool
from routing.tests.strategies import constant_product_pools, dlmm_pools
from routing.tokens import TOKENS

SOL, USDC = TOKENS["SOL"], TOKENS["USDC"]
NOW = 10**9


def test_a_five_thousand_sol_order_is_split(market):
    route = find_route(token_in=SOL, token_out=USDC, amount_in=5_000 * 10**9)
    assert route.dex == SPLIT
    assert {leg.dex for leg in route.legs} == {"raydium", "meteora"}
    assert sum(leg.amount_in for leg in route.legs) == 5_000 * 10**9
    assert sum(leg.share_bps for leg in route.legs) == 10_000
    assert route.expected_amount_out == sum(leg.amount_out for leg in route.legs)
    assert route.expected_amount_out > max(quote.amount_out for quote in route.quotes)


def test_a_small_order_is_not_split(market):
    assert find_route(token_in=SOL, token_out=USDC, amount_in=10**9).dex != SPLIT


@settings(max_examples=60, deadline=None)
@given(
    raydium=constant_product_pools(),
    meteora=dlmm_pools(),
    a_to_b=st.booleans(),
    amount_in=st.integers(min_value=1, max_value=10**14),
)
def test_the_chosen_route_is_never_worse_than_the_best_single_venue(raydium, meteora, a_to_b, amount_in):
    venues = [Venue(1, "raydium", raydium, a_to_b), Venue(2, "meteora", meteora, a_to_b)]
    answered = [(venue, venue.quote(amount_in, NOW)) for venue in venues]
    best_single = max(quote.amount_out for _, quote in answered)
    try:
        route = choose_route(SOL, USDC, amount_in, answered, NOW)
    except NoRoute:
        assert best_single == 0
        return
    assert route.expected_amount_out >= best_single
    assert sum(leg.amount_in for leg in route.legs) == amount_in
    # What the legs promise is what swapping them on the pools as quoted gives.
    by_dex = {venue.dex: venue for venue in venues}
    assert route.expected_amount_out == sum(
        by_dex[leg.dex].simulate(leg.amount_in, NOW).amount_out for leg in route.legs
    )


def test_the_split_beats_both_seeded_venues_alone_for_a_large_order():
    venues = [
        Venue(1, "raydium", seeded_pool("raydium", "SOL/USDC").state(), True),
        Venue(2, "meteora", seeded_pool("meteora", "SOL/USDC").state(), True),
    ]
    amount_in = 5_000 * 10**9
    answered = [(venue, venue.quote(amount_in, NOW)) for venue in venues]
    route = choose_route(SOL, USDC, amount_in, answered, NOW)
    assert route.dex == SPLIT
    assert "more than" in route.reason
