"""The seeded market: which pools exist and how deep they are.

Depth is of mainnet's order: tens of thousands of SOL per venue on SOL/USDC.
The venues' prices differ by a few tenths of a percent, Meteora's liquidity
is concentrated around its price while Raydium's is spread over the whole
curve, so Meteora wins small and medium orders on one side and Raydium the
other side and the largest orders; very large orders are worth splitting.
"""

import hashlib
import math
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

import base58
from django.db import transaction

from routing.dlmm import bin_id_for_price, bin_price_q64
from routing.models import Dex, Pool
from routing.tokens import TOKENS


@dataclass(frozen=True)
class RaydiumSeed:
    token_a: str
    token_b: str
    reserve_a: Decimal  # whole tokens
    price: Decimal  # whole token B per whole token A
    fee_bps: int = 25


@dataclass(frozen=True)
class MeteoraSeed:
    token_a: str
    token_b: str
    price: Decimal
    bin_step: int  # bps
    base_factor: int  # base fee = base_factor * bin_step / 1e8
    variable_fee_control: int
    bins_each_side: int
    # Liquidity of one bin, in whole token A: `center` at the price, falling
    # off like a Gaussian of `width` bins to `center * tail` far out.
    center: Decimal
    width: int
    tail: Decimal
    max_volatility_accumulator: int = 350_000


SEEDS: tuple[RaydiumSeed | MeteoraSeed, ...] = (
    RaydiumSeed("SOL", "USDC", Decimal(60_000), Decimal("150.00")),
    MeteoraSeed(
        "SOL",
        "USDC",
        Decimal("150.60"),
        bin_step=10,
        base_factor=10_000,
        variable_fee_control=40_000,
        bins_each_side=600,
        center=Decimal(45),
        width=40,
        tail=Decimal("0.5"),
    ),
    RaydiumSeed("SOL", "USDT", Decimal(25_000), Decimal("150.10")),
    MeteoraSeed(
        "SOL",
        "USDT",
        Decimal("149.40"),
        bin_step=10,
        base_factor=10_000,
        variable_fee_control=40_000,
        bins_each_side=400,
        center=Decimal(50),
        width=40,
        tail=Decimal("0.15"),
    ),
    RaydiumSeed("USDC", "USDT", Decimal(20_000_000), Decimal("1.0000")),
    MeteoraSeed(
        "USDC",
        "USDT",
        Decimal("1.0002"),
        bin_step=1,
        base_factor=10_000,
        variable_fee_control=2_000_000,
        bins_each_side=200,
        center=Decimal(200_000),
        width=8,
        tail=Decimal("0.02"),
    ),
    RaydiumSeed("SOL", "BONK", Decimal(12_000), Decimal(7_500_000)),
    MeteoraSeed(
        "SOL",
        "BONK",
        Decimal(7_620_000),
        bin_step=80,
        base_factor=2_500,
        variable_fee_control=7_500,
        bins_each_side=120,
        center=Decimal(300),
        width=15,
        tail=Decimal("0.10"),
    ),
)


def seed_key(seed) -> tuple[str, str, str]:
    dex = Dex.RAYDIUM if isinstance(seed, RaydiumSeed) else Dex.METEORA
    return dex, seed.token_a, seed.token_b


def pool_address(dex: str, token_a: str, token_b: str) -> str:
    """A stable, Solana-looking account address for a seeded pool."""
    digest = hashlib.sha256(f"mock-pool:{dex}:{token_a}:{token_b}".encode()).digest()
    return base58.b58encode(digest).decode()


def _raydium_fields(seed: RaydiumSeed) -> dict:
    base, quote = TOKENS[seed.token_a], TOKENS[seed.token_b]
    return {
        "reserve_a": base.to_base_units(seed.reserve_a),
        "reserve_b": quote.to_base_units(seed.reserve_a * seed.price),
        "fee_bps": seed.fee_bps,
    }


def _bin_share(offset: int, width: int, tail: Decimal) -> float:
    """A bin's liquidity as a share of the active bin's: a Gaussian of `width`
    bins over a floor of `tail`."""
    return float(tail) + (1 - float(tail)) * math.exp(-((offset / width) ** 2))


def token_a_in_bins(bins_each_side: int, width: int, tail: Decimal) -> Decimal:
    """How many times `center` of token A a Meteora seed's bins hold: every
    bin above the active one, and half of the active bin."""
    above = sum(_bin_share(offset, width, tail) for offset in range(1, bins_each_side + 1))
    return Decimal(repr(above + 0.5))


def _meteora_fields(seed: MeteoraSeed) -> dict:
    base, quote = TOKENS[seed.token_a], TOKENS[seed.token_b]
    # Base units of Y per base unit of X.
    unit_price = Fraction(seed.price) * Fraction(10**quote.decimals, 10**base.decimals)
    active_id = bin_id_for_price(unit_price, seed.bin_step)
    bins = {}
    for offset in range(-seed.bins_each_side, seed.bins_each_side + 1):
        share = _bin_share(offset, seed.width, seed.tail)
        in_base_units = int(base.to_base_units(seed.center) * share)
        bin_id = active_id + offset
        price = bin_price_q64(bin_id, seed.bin_step)
        if offset > 0:
            x, y = in_base_units, 0
        elif offset < 0:
            x, y = 0, in_base_units * price >> 64
        else:
            x = in_base_units // 2
            y = (in_base_units - x) * price >> 64
        bins[str(bin_id)] = [x, y]
    return {
        "reserve_a": sum(int(x) for x, _ in bins.values()),
        "reserve_b": sum(int(y) for _, y in bins.values()),
        "fee_bps": 0,
        "bin_step": seed.bin_step,
        "active_id": active_id,
        "bins": bins,
        "base_factor": seed.base_factor,
        "variable_fee_control": seed.variable_fee_control,
        "filter_period": 30,
        "decay_period": 600,
        "reduction_factor": 5_000,
        "max_volatility_accumulator": seed.max_volatility_accumulator,
        "volatility_accumulator": 0,
        "volatility_reference": 0,
        "index_reference": active_id,
        "last_update_timestamp": 0,
    }


def seeded_fields(seed) -> dict:
    dex, token_a, token_b = seed_key(seed)
    fields = _raydium_fields(seed) if dex == Dex.RAYDIUM else _meteora_fields(seed)
    return {"address": pool_address(dex, token_a, token_b), **fields}


def anchor_price(pool: Pool) -> Fraction | None:
    """The price a pool was seeded at, which other traders pull it back towards."""
    for seed in SEEDS:
        if seed_key(seed) == (pool.dex, pool.token_a, pool.token_b):
            return Fraction(seed.price)
    return None


@transaction.atomic
def seed_market() -> int:
    """Create each seeded pool that does not exist yet; never touches existing ones."""
    created = 0
    for seed in SEEDS:
        dex, token_a, token_b = seed_key(seed)
        if not Pool.objects.filter(dex=dex, token_a=token_a, token_b=token_b).exists():
            Pool.objects.create(dex=dex, token_a=token_a, token_b=token_b, **seeded_fields(seed))
            created += 1
    return created


@transaction.atomic
def reset_market() -> int:
    """Put every seeded pool back in its seeded state, keeping pool ids, and
    remove the pools of launched tokens."""
    for seed in SEEDS:
        dex, token_a, token_b = seed_key(seed)
        Pool.objects.update_or_create(dex=dex, token_a=token_a, token_b=token_b, defaults=seeded_fields(seed))
    # Launched tokens go back to "not yet trading".
    Pool.objects.exclude(address__in=[pool_address(*seed_key(seed)) for seed in SEEDS]).delete()
    return len(SEEDS)
