"""Reading and writing pool state in the database."""

import time
from decimal import Decimal
from fractions import Fraction

from django.db.models import Q

from config.compiled import CompiledQuery
from routing.models import Dex, Pool
from routing.tokens import Token


def now() -> int:
    """Seconds, as the chain's clock sysvar gives them to the DLMM program."""
    return int(time.time())


def pair_filter(token_in: Token, token_out: Token) -> Q:
    """Pools that trade the pair, whichever token they call A."""
    return Q(token_a=token_in.symbol, token_b=token_out.symbol) | Q(
        token_a=token_out.symbol, token_b=token_in.symbol
    )


def _pools_of(pairs: tuple[tuple[Token, Token], ...], for_update: bool):
    wanted = Q(pk__in=[])
    for token_a, token_b in pairs:
        wanted |= pair_filter(token_a, token_b)
    pools = Pool.objects.filter(wanted).order_by("id").defer("bins")
    return pools.select_for_update() if for_update else pools


# The pools trading some pairs, without their bins, by id: every market
# session reads them, inside the transaction of a worker's round, and every
# trigger check after a pool update.
pools_of = CompiledQuery(Pool, _pools_of)


def pools_for_pair(token_in: Token, token_out: Token) -> list[Pool]:
    """The pools trading the pair, without their bins (a DLMM pool's spot price needs only its active bin)."""
    return pools_of.rows(((token_in, token_out),), False)


def token_trades(token: Token) -> bool:
    """Whether any pool trades this token yet."""
    return Pool.objects.filter(Q(token_a=token.symbol) | Q(token_b=token.symbol)).exists()


def best_spot_prices(token_in: Token, token_out: Token) -> tuple[Fraction, Fraction] | None:
    """The best spot price each way, (whole `token_out` per whole `token_in`,
    and the inverse direction's), or None if no pool trades the pair. No
    order of any size fills at a better average price: fees and price
    impact only lower it. Each pool is read once for both directions."""
    forward = backward = None
    for pool in pools_for_pair(token_in, token_out):
        price = pool.price()  # whole B per whole A
        if pool.token_a != token_in.symbol:
            price = 1 / price if price else Fraction(0)
        inverse = 1 / price if price else Fraction(0)
        forward = price if forward is None else max(forward, price)
        backward = inverse if backward is None else max(backward, inverse)
    return None if forward is None else (forward, backward)


def best_spot_price(token_in: Token, token_out: Token) -> Fraction | None:
    prices = best_spot_prices(token_in, token_out)
    return prices[0] if prices else None


def to_decimal(value: Fraction, *, significant: int = 10) -> Decimal:
    """A readable decimal with about `significant` significant digits."""
    if value == 0:
        return Decimal(0)
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    places = max(0, significant - exact.adjusted() - 1)
    return exact.quantize(Decimal(1).scaleb(-places)).normalize()


def pool_summary(pool: Pool) -> dict:
    state = pool.state()
    depth_a, depth_b = state.depth()
    summary = {
        "poolId": pool.id,
        "address": pool.address,
        "dex": pool.dex,
        "pair": pool.pair,
        "tokenA": pool.token_a,
        "tokenB": pool.token_b,
        # Whole token B for one whole token A.
        "price": str(to_decimal(pool.state_price(state))),
        "depthA": str(pool.base.from_base_units(depth_a)),
        "depthB": str(pool.quote.from_base_units(depth_b)),
        "feeBps": float(round(state.fee_rate_bps(now()), 2)),
        "updatedAt": pool.updated_at.isoformat() if pool.updated_at else None,
    }
    if pool.dex == Dex.METEORA:
        summary.update(
            binStep=pool.bin_step,
            activeId=pool.active_id,
            baseFeeBps=float(Fraction(state.base_fee_rate(), 100_000)),
            volatilityAccumulator=pool.volatility_accumulator,
        )
    return summary


def pool_summaries() -> list[dict]:
    """Every pool with its price, depth in both tokens and current fee, for dashboards and the API."""
    return [pool_summary(pool) for pool in Pool.objects.order_by("token_a", "token_b", "dex")]
