"""Launching a token: its first pool appears on Raydium or Meteora.

This is what a sniper order waits for: a new token's first pool, opened
directly or by a migration from a bonding curve.
"""

from decimal import Decimal

from django.db import IntegrityError, transaction

from routing.errors import InvalidPair
from routing.models import Dex, Pool
from routing.seed import MeteoraSeed, RaydiumSeed, pool_address, seed_key, seeded_fields, token_a_in_bins
from routing.signals import announce_on_commit
from routing.tokens import TOKENS

QUOTE_TOKEN = "SOL"


def launchable_tokens() -> list[str]:
    """Tokens in the registry that no pool trades yet."""
    trading = set(Pool.objects.values_list("token_a", flat=True)) | set(
        Pool.objects.values_list("token_b", flat=True)
    )
    return [symbol for symbol in TOKENS if symbol not in trading]


@transaction.atomic
def launch_token(*, symbol: str, dex: str, sol_liquidity: Decimal, price: Decimal) -> Pool:
    """Open a SOL/`symbol` pool holding `sol_liquidity` SOL (and the tokens
    that match it), at `price` tokens per SOL."""
    if symbol not in TOKENS or symbol == QUOTE_TOKEN:
        raise InvalidPair(f"{symbol} is not a token that can be launched against SOL")
    if dex not in Dex.values:
        raise InvalidPair(f"unknown DEX {dex!r}; choose {' or '.join(Dex.values)}")
    if sol_liquidity <= 0 or price <= 0:
        raise InvalidPair("liquidity and price must be positive")
    if Pool.objects.filter(dex=dex, token_a=QUOTE_TOKEN, token_b=symbol).exists():
        raise InvalidPair(f"{symbol} already has a pool on {dex}")
    if dex == Dex.RAYDIUM:
        seed = RaydiumSeed(QUOTE_TOKEN, symbol, sol_liquidity, price)
    else:
        # Liquidity concentrated around the launch price, as launch pools are:
        # bins of SOL above it, of the token below, SOL_LIQUIDITY SOL in all.
        shape = {"bins_each_side": 100, "width": 20, "tail": Decimal("0.05")}
        center = sol_liquidity / token_a_in_bins(**shape)
        seed = MeteoraSeed(
            QUOTE_TOKEN,
            symbol,
            price,
            bin_step=100,
            base_factor=10_000,
            variable_fee_control=40_000,
            center=center,
            **shape,
        )
    fields = seeded_fields(seed)
    assert fields["address"] == pool_address(*seed_key(seed))
    if fields["reserve_a"] <= 0 or fields["reserve_b"] <= 0:
        # A reserve of 0 base units would price the token at nothing, or at infinity.
        raise InvalidPair(
            f"{sol_liquidity} SOL at {price} {symbol} per SOL is too little to open a pool with"
        )
    try:
        pool = Pool.objects.create(dex=dex, token_a=QUOTE_TOKEN, token_b=symbol, **fields)
    except IntegrityError as error:
        # Another launch of the same pool committed after the check above.
        raise InvalidPair(f"{symbol} already has a pool on {dex}") from error
    announce_on_commit({(QUOTE_TOKEN, symbol)})
    return pool
