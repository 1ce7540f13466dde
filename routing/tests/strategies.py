"""Hypothesis strategies for pools of both kinds."""

from hypothesis import strategies as st

from routing.amm import ConstantProductPool
from routing.dlmm import DlmmPool, FeeParameters, bin_price_q64

reserves = st.integers(min_value=10**3, max_value=10**16)


@st.composite
def constant_product_pools(draw):
    return ConstantProductPool(reserve_a=draw(reserves), reserve_b=draw(reserves))


@st.composite
def dlmm_pools(draw):
    bin_step = draw(st.sampled_from([1, 10, 25, 80, 100]))
    active_id = draw(st.integers(min_value=-3_000, max_value=3_000))
    # Keep prices within what real pools quote, so the Q64.64 arithmetic has room.
    active_id = max(min(active_id, 200_000 // bin_step), -200_000 // bin_step)
    amount = st.integers(min_value=0, max_value=10**13)
    below = draw(st.lists(amount, min_size=0, max_size=12))
    above = draw(st.lists(amount, min_size=0, max_size=12))
    bins = {active_id: [draw(amount), draw(amount)]}
    for offset, x in enumerate(above, start=1):
        bins[active_id + offset] = [x, 0]
    for offset, value in enumerate(below, start=1):
        bin_id = active_id - offset
        bins[bin_id] = [0, value * bin_price_q64(bin_id, bin_step) >> 64]
    fees = FeeParameters(
        base_factor=draw(st.integers(min_value=0, max_value=20_000)),
        variable_fee_control=draw(st.integers(min_value=0, max_value=100_000)),
    )
    return DlmmPool(
        bin_step=bin_step,
        active_id=active_id,
        bins=bins,
        fees=fees,
        volatility_accumulator=draw(st.integers(min_value=0, max_value=350_000)),
        volatility_reference=draw(st.integers(min_value=0, max_value=100_000)),
        index_reference=active_id + draw(st.integers(min_value=-5, max_value=5)),
        last_update_timestamp=draw(st.integers(min_value=0, max_value=1_000)),
    )


def pools():
    return st.one_of(constant_product_pools(), dlmm_pools())
