"""Properties every pool keeps, whatever its state and whatever the swap."""

import json

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from routing.amm import ConstantProductPool
from routing.dlmm import DlmmPool
from routing.errors import InsufficientLiquidity
from routing.tests.strategies import constant_product_pools, dlmm_pools, pools

amounts = st.integers(min_value=1, max_value=10**15)
NOW = 2_000


def copy(pool):
    if isinstance(pool, DlmmPool):
        return pool.copy()
    return ConstantProductPool(pool.reserve_a, pool.reserve_b, pool.fee_numerator, pool.fee_denominator)


def quote(pool, *, a_to_b, amount_in):
    try:
        return pool.quote_swap(a_to_b=a_to_b, amount_in=amount_in, now=NOW)
    except InsufficientLiquidity:
        return None


@given(pool=constant_product_pools(), a_to_b=st.booleans(), amount_in=amounts)
def test_constant_product_x_times_y_never_decreases(pool, a_to_b, amount_in):
    before = pool.reserve_a * pool.reserve_b
    pool.swap(a_to_b=a_to_b, amount_in=amount_in)
    assert pool.reserve_a * pool.reserve_b >= before


@given(pool=constant_product_pools(), a_to_b=st.booleans(), amount_in=amounts)
def test_constant_product_reserves_change_by_exactly_what_the_swap_moved(pool, a_to_b, amount_in):
    reserve_a, reserve_b = pool.reserve_a, pool.reserve_b
    result = pool.swap(a_to_b=a_to_b, amount_in=amount_in)
    if a_to_b:
        assert (pool.reserve_a, pool.reserve_b) == (reserve_a + amount_in, reserve_b - result.amount_out)
    else:
        assert (pool.reserve_a, pool.reserve_b) == (reserve_a - result.amount_out, reserve_b + amount_in)


@given(pool=pools(), a_to_b=st.booleans(), amount_in=amounts, extra=amounts)
def test_output_is_monotone_in_input_and_never_exceeds_the_reserve(pool, a_to_b, amount_in, extra):
    smaller = quote(pool, a_to_b=a_to_b, amount_in=amount_in)
    larger = quote(pool, a_to_b=a_to_b, amount_in=amount_in + extra)
    assume(smaller is not None)
    reserve_out = pool.depth()[1 if a_to_b else 0]
    assert smaller.amount_out < reserve_out or (
        isinstance(pool, DlmmPool) and smaller.amount_out <= reserve_out
    )
    if larger is not None:
        assert larger.amount_out >= smaller.amount_out
        assert larger.amount_out <= reserve_out


@settings(max_examples=200)
@given(pool=pools(), a_to_b=st.booleans(), amount_in=amounts)
def test_a_round_trip_never_profits(pool, a_to_b, amount_in):
    there = quote(pool, a_to_b=a_to_b, amount_in=amount_in)
    assume(there is not None)
    pool.apply(there)
    assume(there.amount_out > 0)
    back = quote(pool, a_to_b=not a_to_b, amount_in=there.amount_out)
    assume(back is not None)
    assert back.amount_out <= amount_in


@settings(max_examples=200)
@given(pool=dlmm_pools(), a_to_b=st.booleans(), amount_in=amounts)
def test_a_dlmm_swap_across_bins_equals_the_sum_of_its_per_bin_pieces(pool, a_to_b, amount_in):
    piecewise = pool.copy()
    whole = quote(pool, a_to_b=a_to_b, amount_in=amount_in)
    assume(whole is not None)
    pool.apply(whole)

    pieces = [piecewise.swap(a_to_b=a_to_b, amount_in=fill.amount_in, now=NOW) for fill in whole.fills]

    assert sum(piece.amount_out for piece in pieces) == whole.amount_out
    assert sum(piece.fee for piece in pieces) == whole.fee
    assert piecewise.bins == pool.bins
    assert piecewise.active_id == pool.active_id


@given(pool=dlmm_pools(), a_to_b=st.booleans(), amount_in=amounts)
def test_a_dlmm_swap_conserves_tokens_less_the_fee(pool, a_to_b, amount_in):
    total_x, total_y = pool.total_x, pool.total_y
    result = quote(pool, a_to_b=a_to_b, amount_in=amount_in)
    assume(result is not None)
    pool.apply(result)
    into_pool = amount_in - result.fee
    if a_to_b:
        assert (pool.total_x, pool.total_y) == (total_x + into_pool, total_y - result.amount_out)
    else:
        assert (pool.total_x, pool.total_y) == (total_x - result.amount_out, total_y + into_pool)
    assert pool.total_x == sum(x for x, _ in pool.bins.values())
    assert pool.total_y == sum(y for _, y in pool.bins.values())
    assert all(x >= 0 and y >= 0 for x, y in pool.bins.values())


@given(pool=dlmm_pools(), swaps=st.lists(st.tuples(st.booleans(), amounts), max_size=4))
def test_a_dlmm_pools_bins_json_is_its_bins_as_json_after_any_swaps(pool, swaps):
    pool.bins_json()  # from here on, only the bins a swap changes are written again
    for a_to_b, amount_in in swaps:
        result = quote(pool, a_to_b=a_to_b, amount_in=amount_in)
        if result is not None:
            pool.apply(result)
    written = {str(i): amounts for i, amounts in sorted(pool.bins.items())}
    assert pool.bins_json() == json.dumps(written)
    assert pool.copy().bins_json() == json.dumps(written)


@given(pool=dlmm_pools(), swaps=st.lists(st.tuples(st.booleans(), amounts), max_size=6))
def test_a_dlmm_pools_kept_edges_are_those_a_scan_of_its_bins_finds_after_any_swaps(pool, swaps):
    def scanned(a_to_b):
        fresh = pool.copy()
        return fresh._last_bin_with_liquidity(a_to_b)

    for a_to_b, amount_in in swaps:
        pool._last_bin_with_liquidity(True), pool._last_bin_with_liquidity(False)
        result = quote(pool, a_to_b=a_to_b, amount_in=amount_in)
        if result is not None:
            pool.apply(result)
        assert pool._last_bin_with_liquidity(True) == scanned(True)
        assert pool._last_bin_with_liquidity(False) == scanned(False)
