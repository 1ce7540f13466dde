"""A market session: the pools of some pairs, read once, for a run of orders.

Reading a pool is most of the cost of routing one order: a DLMM pool's bins
are a few hundred JSON entries to parse, and to write back after a swap. A
job that routes or settles many orders therefore opens one session, decides
and swaps in memory (each order sees the swaps of the ones before it), and
writes each pool it changed once, inside the caller's transaction.

`for_update=True` locks the pools (in id order, so two sessions cannot
deadlock) until that transaction ends: what settles swaps takes it, what only
quotes does not.

Each process also keeps the state of the pools it last read or wrote, with
the row's `version`: a session whose row still has that version skips the
bins altogether. A session that will write takes the state out of that
cache, and puts it back, with the new version, once its transaction commits;
if it rolls back, the next session reads the row. The clock's market drift
(routing.drift) writes pools through the same cache.
"""

import json
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace

from django.db import transaction

from routing import market
from routing.errors import DexUnavailable, InsufficientLiquidity, InvalidPair, NoRoute, SlippageExceeded
from routing.models import Pool
from routing.routes import Leg, Quote, Route, Venue, choose_route, quote_venues
from routing.signals import announce_on_commit
from routing.swap import SwapResult
from routing.tokens import Token

logger = logging.getLogger("routing")

# pool id -> (row version, state as of that version), for this process.
_known_states: dict[int, tuple[int, object]] = {}


def kept_state(pool: Pool) -> tuple[Pool, object]:
    """`pool` (a row read without its bins) and its state: the one this
    process keeps, if the row still has its version; else the row read
    again, whole, whose state is kept from now on. Loading only the
    deferred bins could pair them with an older active bin, if the row was
    written since it was read."""
    version, state = _known_states.get(pool.id, (None, None))
    if version != pool.version:
        pool = Pool.objects.get(pk=pool.pk)
        state = pool.state()
        _known_states[pool.id] = (pool.version, state)
    return pool, state


def take_state(pool: Pool) -> tuple[Pool, object]:
    """As kept_state(), for a writer that holds the row (locked, or SQLite's
    write lock): nothing can write it between the two reads, so a state not
    kept needs only the row's bins. The state leaves the cache until
    keep_on_commit() puts it back, so a rollback leaves nothing behind."""
    version, state = _known_states.pop(pool.id, (None, None))
    if version != pool.version:
        if transaction.get_connection().in_atomic_block:
            pool.refresh_from_db(fields=["bins"])
        else:  # not held after all (SQLite does not check): read it whole
            pool = Pool.objects.get(pk=pool.pk)
        state = pool.state()
    return pool, state


def keep_on_commit(pools: Iterable[tuple[Pool, object]]) -> None:
    """Keep these states, under their rows' versions as written, once the
    transaction that wrote them commits."""
    known = {pool.id: (pool.version, state) for pool, state in pools}
    transaction.on_commit(lambda: _known_states.update(known))


def keep_all_states() -> None:
    """Read every pool, whole, and keep its state under the version read
    with it: what a process's first sessions would otherwise do, parsing
    each pool's bins, inside their transactions."""
    _known_states.update({pool.id: (pool.version, pool.state()) for pool in Pool.objects.all()})


@dataclass(frozen=True)
class Fill:
    """A route's swap worked out on the session's pools, not yet applied."""

    route: Route
    min_amount_out: int
    amount_out: int
    results: tuple[tuple[Leg, int, SwapResult], ...]  # (leg, pool id, result)


class MarketSession:
    def __init__(self, pairs: Iterable[tuple[Token, Token]], *, for_update: bool = False):
        pairs = tuple(sorted(set(pairs), key=lambda pair: (pair[0].symbol, pair[1].symbol)))
        self._for_update = for_update
        self._pools = {pool.id: pool for pool in market.pools_of.rows(pairs, for_update)}
        self._states: dict[int, object] = {}
        self._swaps: Counter[int] = Counter()
        self.now = market.now()

    # --- reading --------------------------------------------------------------

    def _state(self, pool: Pool):
        if pool.id not in self._states:
            pool, state = take_state(pool) if self._for_update else kept_state(pool)
            self._pools[pool.id], self._states[pool.id] = pool, state
        return self._states[pool.id]

    def _pools_for(self, token_in: Token, token_out: Token) -> list[Pool]:
        pair = {token_in.symbol, token_out.symbol}
        return [pool for pool in self._pools.values() if {pool.token_a, pool.token_b} == pair]

    def venues(self, token_in: Token, token_out: Token, amount_in: int) -> list[Venue]:
        if token_in == token_out:
            raise InvalidPair(f"cannot swap {token_in.symbol} for itself")
        if amount_in <= 0:
            raise NoRoute("the amount to swap must be positive")
        pools = self._pools_for(token_in, token_out)
        if not pools:
            raise NoRoute(f"no pool trades {token_in.symbol}/{token_out.symbol} on Raydium or Meteora")
        return [
            Venue(pool.id, pool.dex, self._state(pool), a_to_b=pool.token_a == token_in.symbol)
            for pool in pools
        ]

    def quote_all(self, *, token_in: Token, token_out: Token, amount_in: int) -> list[Quote]:
        """One quote per pool that answered, fetched concurrently."""
        venues = self.venues(token_in, token_out, amount_in)
        answered, _ = quote_venues(venues, amount_in, self.now)
        return [quote for _, quote in answered]

    def simulate_route(self, *, token_in: Token, token_out: Token, amount_in: int) -> Route:
        """The route `find_route` would choose now, computed locally: no DEX is
        asked, so no latency and no simulated outage."""
        venues = self.venues(token_in, token_out, amount_in)
        answered = [(venue, venue.quote(amount_in, self.now)) for venue in venues]
        return choose_route(token_in, token_out, amount_in, answered, self.now)

    def find_route(self, *, token_in: Token, token_out: Token, amount_in: int, wait: bool = True) -> Route:
        """Quote every venue and choose. `wait=False` skips the simulated network
        latency, for a caller that already waited it out on a timer; simulated
        outages still happen."""
        venues = self.venues(token_in, token_out, amount_in)
        answered, errors = quote_venues(venues, amount_in, self.now, wait=wait)
        try:
            route = choose_route(token_in, token_out, amount_in, answered, self.now)
        except NoRoute as error:
            if errors:
                # The venues that did not answer might have filled it: worth another attempt.
                raise DexUnavailable(
                    f"{'; '.join(errors)}, and the venues that answered cannot fill it: {error}"
                ) from error
            raise
        if errors:
            route = replace(route, reason=f"{route.reason} ({'; '.join(errors)})", unanswered=tuple(errors))
        described = route.to_json()
        logger.info(
            "routing decision %s", json.dumps({"event": "route", **described}), extra={"route": described}
        )
        return route

    # --- swapping ---------------------------------------------------------------

    def _pool_for_leg(self, leg: Leg, route: Route) -> Pool:
        if leg.pool_id in self._pools:
            return self._pools[leg.pool_id]
        # The pool was replaced (a market reset) since the route was chosen.
        for pool in self._pools_for(route.token_in, route.token_out):
            if pool.dex == leg.dex:
                return pool
        raise NoRoute(
            f"the {leg.dex} pool for {route.token_in.symbol}/{route.token_out.symbol} no longer exists"
        )

    def fill(self, route: Route, *, min_amount_out: int) -> Fill:
        """The swap along `route` on the pools as they are in this session now.
        Raises SlippageExceeded if it would return less than `min_amount_out`.
        Changes nothing: `apply` does. A route has one leg per pool."""
        if not route.legs:
            raise NoRoute("the route has no legs to execute")
        results = []
        for leg in route.legs:
            pool = self._pool_for_leg(leg, route)
            try:
                result = self._state(pool).quote_swap(
                    a_to_b=pool.token_a == route.token_in.symbol, amount_in=leg.amount_in, now=self.now
                )
            except InsufficientLiquidity:
                raise SlippageExceeded(
                    f"the {leg.dex} pool no longer has the liquidity to fill this swap"
                ) from None
            results.append((leg, pool.id, result))
        amount_out = sum(result.amount_out for _, _, result in results)
        if amount_out < min_amount_out:
            token = route.token_out
            raise SlippageExceeded(
                f"the swap would return {token.from_base_units(amount_out)} {token.symbol}, "
                f"below the minimum of {token.from_base_units(min_amount_out)} {token.symbol}"
            )
        return Fill(route, min_amount_out, amount_out, tuple(results))

    def apply(self, fill: Fill) -> None:
        """Swap: the session's pools now include `fill`; `save` writes them."""
        for _, pool_id, result in fill.results:
            self._states[pool_id].apply(result)
            self._swaps[pool_id] += 1
        route = fill.route
        logger.info(
            "swap executed %s",
            json.dumps(
                {
                    "event": "swap",
                    "tokenIn": route.token_in.symbol,
                    "tokenOut": route.token_out.symbol,
                    "amountIn": str(route.amount_in),
                    "dex": route.dex,
                    "expectedAmountOut": str(route.expected_amount_out),
                    "minAmountOut": str(fill.min_amount_out),
                    "amountOut": str(fill.amount_out),
                    "legs": [
                        {"dex": leg.dex, "poolId": pool_id, "amountOut": str(result.amount_out)}
                        for leg, pool_id, result in fill.results
                    ],
                }
            ),
        )

    def save(self) -> int:
        """Write every pool a swap changed, once, and tell the trigger watchers
        after the commit. Call it inside the transaction that locked them."""
        for pool_id, swaps in self._swaps.items():
            self._pools[pool_id].write(self._states[pool_id], swaps=swaps)
        if self._for_update:
            # Swapped or not, the states this session took go back to the cache.
            keep_on_commit([(self._pools[pool_id], state) for pool_id, state in self._states.items()])
        announce_on_commit({(self._pools[i].token_a, self._pools[i].token_b) for i in self._swaps})
        saved, self._swaps = len(self._swaps), Counter()
        return saved
