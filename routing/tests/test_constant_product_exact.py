"""Raydium swaps worked out by hand from the AMM's formulas."""

from routing.amm import ConstantProductPool


def test_one_sol_into_a_thousand_sol_pool_returns_the_hand_computed_amount():
    # 1,000 SOL and 150,000 USDC, in base units.
    pool = ConstantProductPool(reserve_a=1_000_000_000_000, reserve_b=150_000_000_000)
    result = pool.swap(a_to_b=True, amount_in=1_000_000_000)
    # fee = ceil(1e9 * 25 / 10_000) = 2,500,000
    assert result.fee == 2_500_000
    # out = floor(150e9 * 997,500,000 / (1e12 + 997,500,000)) = floor(149,475,...)
    assert result.amount_out == 150_000_000_000 * 997_500_000 // 1_000_997_500_000 == 149_475_897
    # The whole input, fee included, stays in the pool.
    assert (pool.reserve_a, pool.reserve_b) == (1_001_000_000_000, 150_000_000_000 - 149_475_897)


def test_the_fee_is_rounded_up_so_dust_buys_nothing():
    pool = ConstantProductPool(reserve_a=10**12, reserve_b=10**12)
    # fee = ceil(1 * 25 / 10_000) = 1, leaving nothing to swap
    assert pool.quote_swap(a_to_b=True, amount_in=1).amount_out == 0
    # fee = ceil(401 * 25 / 10_000) = ceil(1.0025) = 2; out = floor(1e12 * 399 / (1e12 + 399)) = 398
    result = pool.quote_swap(a_to_b=True, amount_in=401)
    assert (result.fee, result.amount_out) == (2, 398)


def test_selling_usdc_for_sol_uses_the_other_reserve_as_input():
    pool = ConstantProductPool(reserve_a=60_000_000_000_000, reserve_b=9_000_000_000_000)
    # 150 USDC: fee = 375,000; in' = 149,625,000
    # out = floor(60e12 * 149,625,000 / (9e12 + 149,625,000)) = 997,483,416 lamports
    result = pool.swap(a_to_b=False, amount_in=150_000_000)
    assert result.fee == 375_000
    assert result.amount_out == 60_000_000_000_000 * 149_625_000 // 9_000_149_625_000 == 997_483_416
    assert pool.reserve_b == 9_000_150_000_000


def test_price_impact_is_the_share_of_the_input_the_curve_takes():
    pool = ConstantProductPool(reserve_a=60_000 * 10**9, reserve_b=9_000_000 * 10**6)
    # 1,000 SOL: impact = in' / (R_in + in') = 997.5 / 60,997.5 = 1.635 %
    assert pool.quote_swap(a_to_b=True, amount_in=1_000 * 10**9).price_impact_bps == 164
    assert pool.quote_swap(a_to_b=True, amount_in=10**9).price_impact_bps == 0
