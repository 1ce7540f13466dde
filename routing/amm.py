"""Raydium's AMM (v4): a constant-product pool, in integer base units.

The arithmetic is the program's `swap_token_amount_base_in`:

    fee        = ceil(amount_in * 25 / 10_000)
    in_after   = amount_in - fee
    amount_out = floor(reserve_out * in_after / (reserve_in + in_after))

The whole input, fee included, goes into the pool, so reserve_a * reserve_b
can only grow.
"""

from dataclasses import dataclass
from fractions import Fraction

from routing.errors import InsufficientLiquidity
from routing.swap import SwapResult, impact_bps


def ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


@dataclass
class ConstantProductPool:
    reserve_a: int
    reserve_b: int
    fee_numerator: int = 25
    fee_denominator: int = 10_000

    kind = "constant_product"

    def spot_price(self) -> Fraction:
        """Base units of token B per base unit of token A."""
        return Fraction(self.reserve_b, self.reserve_a)

    def quote_swap(self, *, a_to_b: bool, amount_in: int, now: int = 0) -> SwapResult:
        if amount_in <= 0:
            raise ValueError("amount_in must be positive")
        reserve_in, reserve_out = (
            (self.reserve_a, self.reserve_b) if a_to_b else (self.reserve_b, self.reserve_a)
        )
        if reserve_in <= 0 or reserve_out <= 0:
            raise InsufficientLiquidity("the pool is empty")
        fee = ceil_div(amount_in * self.fee_numerator, self.fee_denominator)
        in_after_fee = amount_in - fee
        amount_out = reserve_out * in_after_fee // (reserve_in + in_after_fee)
        ideal_out = reserve_out * in_after_fee // reserve_in
        new_in, new_out = reserve_in + amount_in, reserve_out - amount_out
        return SwapResult(
            a_to_b=a_to_b,
            amount_in=amount_in,
            amount_out=amount_out,
            fee=fee,
            price_impact_bps=impact_bps(ideal_out=ideal_out, amount_out=amount_out),
            reserve_a=new_in if a_to_b else new_out,
            reserve_b=new_out if a_to_b else new_in,
        )

    def apply(self, result: SwapResult) -> None:
        self.reserve_a, self.reserve_b = result.reserve_a, result.reserve_b

    def swap(self, *, a_to_b: bool, amount_in: int, now: int = 0) -> SwapResult:
        result = self.quote_swap(a_to_b=a_to_b, amount_in=amount_in, now=now)
        self.apply(result)
        return result

    def depth(self) -> tuple[int, int]:
        return self.reserve_a, self.reserve_b

    def fee_rate_bps(self, now: int | None = None) -> Fraction:
        return Fraction(self.fee_numerator * 10_000, self.fee_denominator)
