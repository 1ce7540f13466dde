"""Meteora DLMM swaps worked out by hand from the program's formulas."""

import pytest

from routing.dlmm import ONE, DlmmPool, FeeParameters, bin_price_q64
from routing.errors import InsufficientLiquidity

# Base fee = 10_000 * 10 * 10 = 1,000,000 / 1e9 = 0.1 %.
FEES = FeeParameters(base_factor=10_000, variable_fee_control=40_000)


def two_bin_pool() -> DlmmPool:
    # Bin 0 has the price 1.0 and holds both tokens; bin 1 (price 1.001) holds only X.
    return DlmmPool(bin_step=10, active_id=0, bins={0: [1_000, 1_000], 1: [1_000, 0]}, fees=FEES)


def test_bin_prices_are_powers_of_one_plus_the_bin_step():
    assert bin_price_q64(0, 10) == ONE
    assert bin_price_q64(1, 10) == ONE + ONE // 1_000  # 1.001
    assert bin_price_q64(-1, 10) == ONE * 1_000 // 1_001  # 1 / 1.001


def test_a_swap_inside_one_bin_has_no_price_impact():
    pool = two_bin_pool()
    result = pool.swap(a_to_b=True, amount_in=500, now=1_000)
    # fee = ceil(500 * 1,000,000 / 1e9) = 1; 499 go into the bin at price 1.0
    assert (result.fee, result.amount_out, result.price_impact_bps) == (1, 499, 0)
    assert pool.bins[0] == [1_499, 501]
    assert pool.active_id == 0


def test_a_swap_drains_the_active_bin_then_walks_to_the_next_with_a_higher_fee():
    pool = two_bin_pool()
    result = pool.swap(a_to_b=False, amount_in=2_000, now=1_000)
    # Bin 0: accumulator 0, fee rate 1,000,000. Taking its 1,000 X costs 1,000 Y
    # plus ceil(1,000 * 1e6 / (1e9 - 1e6)) = 2 fee: 1,002 used, 998 left.
    # Bin 1: one bin from the reference, accumulator 10,000, variable fee
    # ceil(40,000 * (10,000 * 10)^2 / 1e11) = 4,000, rate 1,004,000. Draining it
    # would take 1,001 + 2, more than is left, so: fee = ceil(998 * 1,004,000 / 1e9) = 2,
    # 996 into the bin, out = floor(996 / 1.001) = 995.
    assert [(f.bin_id, f.amount_in, f.amount_out, f.fee) for f in result.fills] == [
        (0, 1_002, 1_000, 2),
        (1, 998, 995, 2),
    ]
    assert (result.amount_out, result.fee) == (1_995, 4)
    # Ideal at bin 0's price: 1,996 X; got 1,995, so 1 / 1,996 = 5 bps of impact.
    assert result.price_impact_bps == 5
    assert pool.bins == {0: [0, 2_000], 1: [5, 996]}
    assert (pool.active_id, pool.volatility_accumulator) == (1, 10_000)


def test_the_volatility_accumulator_holds_within_the_filter_period_then_decays():
    pool = two_bin_pool()
    pool.swap(a_to_b=False, amount_in=2_000, now=1_000)  # ends one bin from the reference
    # Within filter_period (30 s): the reference stays at bin 0, so still one bin away.
    assert pool.quote_swap(a_to_b=False, amount_in=1, now=1_010).volatility_accumulator == 10_000
    # Between filter_period and decay_period: reference moves to bin 1, and the
    # volatility reference is 10,000 * 5,000 / 10,000 = 5,000.
    assert pool.quote_swap(a_to_b=False, amount_in=1, now=1_100).volatility_accumulator == 5_000
    # After decay_period (600 s): back to 0.
    assert pool.quote_swap(a_to_b=False, amount_in=1, now=2_000).volatility_accumulator == 0


def test_variable_fee_follows_the_programs_formula_and_is_capped():
    pool = two_bin_pool()
    assert pool.base_fee_rate() == 1_000_000
    # 40,000 * (350,000 * 10)^2 / 1e11 = 4,900,000: 0.49 % on top of the base fee
    assert pool.variable_fee_rate(350_000) == 4_900_000
    assert pool.total_fee_rate(10**9) == 100_000_000  # never above 10 %


def test_a_swap_that_empties_the_farthest_bin_leaves_that_side_without_liquidity():
    # Bin 0 (price 1.0) and bin -1 (price 1 / 1.001, rounded down in Q64.64) hold
    # 1,000 Y each; with no fee, taking both costs 1,000 + ceil(1,000 / price) = 1,002 X.
    pool = DlmmPool(
        bin_step=10,
        active_id=0,
        bins={-1: [0, 1_000], 0: [0, 1_000], 1: [1_000, 0]},
        fees=FeeParameters(base_factor=0, variable_fee_control=0),
    )
    assert pool._last_bin_with_liquidity(True) == -1  # kept from here on
    result = pool.swap(a_to_b=True, amount_in=2_002, now=1_000)
    assert [(f.bin_id, f.amount_out) for f in result.fills] == [(0, 1_000), (-1, 1_000)]
    assert pool._last_bin_with_liquidity(True) is None
    assert pool._last_bin_with_liquidity(False) == 1
    with pytest.raises(InsufficientLiquidity, match="no liquidity on that side"):
        pool.quote_swap(a_to_b=True, amount_in=1, now=1_000)
