"""What both kinds of pool answer when asked to swap.

A pool first *simulates* a swap (`quote_swap`, pure) and only then, if the
caller wants it, *applies* the result (`apply`). Quoting never copies or
mutates pool state, so the router can simulate dozens of sizes cheaply.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class BinFill:
    """The part of a DLMM swap that one bin filled."""

    bin_id: int
    amount_in: int  # including the fee
    amount_out: int
    fee: int
    # The bin's reserves after the fill, so `apply` needs no recomputation.
    reserve_x: int
    reserve_y: int


@dataclass(frozen=True)
class SwapResult:
    a_to_b: bool
    amount_in: int
    amount_out: int
    fee: int  # in the input token, base units
    # 1 - out / (what the input after fees would buy at the pool's spot price).
    price_impact_bps: int
    # Constant product: the reserves after the swap.
    reserve_a: int = 0
    reserve_b: int = 0
    # DLMM: the bins touched, and the pool's dynamic fee state after the swap.
    fills: tuple[BinFill, ...] = field(default=())
    active_id: int = 0
    volatility_accumulator: int = 0
    volatility_reference: int = 0
    index_reference: int = 0
    timestamp: int = 0

    @property
    def fee_bps(self) -> int:
        """The fee actually charged, as a share of the input (rounded to the nearest bp)."""
        return (self.fee * 10_000 * 2 + self.amount_in) // (2 * self.amount_in) if self.amount_in else 0


def impact_bps(*, ideal_out: int, amount_out: int) -> int:
    """How much worse than the spot price the fill was, in bps, never negative."""
    if ideal_out <= 0 or amount_out >= ideal_out:
        return 0
    return ((ideal_out - amount_out) * 10_000 + ideal_out // 2) // ideal_out
