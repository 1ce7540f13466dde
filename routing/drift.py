"""Other traders: small random swaps that move every pool a little.

The engine's clock trades one pool at a time (`Drift`), each pool once every
MARKET_DRIFT_SECONDS; `apply_drift()` is one round of all of them. Each
trade is of random size; its direction leans back towards the
price the pool was seeded at (arbitrageurs), so prices wander without
running away. All randomness comes from `mock.rng`.
"""

import logging

from django.db import transaction

from config.compiled import CompiledQuery
from routing import market, mock
from routing.amm import ConstantProductPool
from routing.dlmm import DlmmPool
from routing.errors import InsufficientLiquidity
from routing.models import Pool
from routing.seed import anchor_price
from routing.session import keep_on_commit, take_state
from routing.signals import announce_on_commit

logger = logging.getLogger("routing")

# Mean trade size, as a share of the pool's token A; BONK is more volatile.
TRADE_SHARE = 0.0005
VOLATILE_TRADE_SHARE = 0.002
VOLATILE_TOKENS = {"BONK"}
# How strongly a deviation from the anchor price biases the next trade.
PULL = 25


def _pool_to_trade(pool_id: int):
    return Pool.objects.filter(pk=pool_id).defer("bins").select_for_update()


# The pool a trade holds, read without its bins: the clock keeps the state it
# last wrote (routing.session), and reads the bins again only when someone
# else wrote the row since (under load, the workers, for the pools orders
# trade). Decoding them every step was half the clock's CPU on an idle engine.
_held_pool = CompiledQuery(Pool, _pool_to_trade)


def _trade(pool: Pool, state: ConstantProductPool | DlmmPool, now: int) -> None:
    price = pool.state_price(state)
    anchor = anchor_price(pool) or price
    deviation = float(price / anchor - 1) if anchor else 0.0
    sell_a = mock.rng.random() < min(0.9, max(0.1, 0.5 + deviation * PULL))
    share = VOLATILE_TRADE_SHARE if {pool.token_a, pool.token_b} & VOLATILE_TOKENS else TRADE_SHARE
    # Arbitrageurs trade more the further a pool is from the market price.
    size_a = int(state.depth()[0] * share * (1 + abs(deviation) * 100) * mock.rng.expovariate(1.0))
    amount_in = size_a if sell_a else int(size_a * state.spot_price())
    if amount_in <= 0:
        return
    try:
        state.swap(a_to_b=sell_a, amount_in=amount_in, now=now)
    except InsufficientLiquidity:
        return
    pool.write(state)


def drift_pool(pool_id: int, now: int | None = None) -> bool:
    """One other trader's swap on one pool, in a transaction of its own;
    whether the pool was there to trade."""
    with transaction.atomic():
        held = _held_pool.rows(pool_id)
        if not held:
            return False  # removed meanwhile (a market reset)
        pool, state = take_state(held[0])
        _trade(pool, state, market.now() if now is None else now)
        keep_on_commit([(pool, state)])
        announce_on_commit({(pool.token_a, pool.token_b)})
    return True


def apply_drift() -> int:
    """One round of other traders' swaps, one per pool; returns how many pools moved."""
    now = market.now()
    return sum(
        drift_pool(pool_id, now) for pool_id in Pool.objects.order_by("id").values_list("id", flat=True)
    )


class Drift:
    """The clock's other traders: one pool at a time, each pool once every
    MARKET_DRIFT_SECONDS. A whole round at once held the write lock and a
    core for 12 ms every 5 s, and placements that came then waited for it:
    their latency at p99 was 6 ms worse."""

    def __init__(self):
        self._left: list[int] = []
        self._pools = 0

    def step(self, every_seconds: float) -> float:
        """Trade the next pool; returns how long to wait before the next step."""
        if not self._left:
            self._left = list(Pool.objects.order_by("-id").values_list("id", flat=True))
            self._pools = len(self._left)
        if self._left:
            drift_pool(self._left.pop())
        return every_seconds / max(self._pools, 1)
