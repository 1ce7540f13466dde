"""Routes: what the router decides, and how it decides it, on pools already in memory.

`Quote`, `Leg` and `Route` are the decision and its wire form; `Venue` is one
pool as loaded for one decision; `choose_route` picks the best single venue or
a split. Nothing here reads or writes the database: `routing.session` loads
the pools, and `routing.router` is the interface the order engine calls.
"""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction

from config.threads import leave_signals_to_the_main_thread
from routing import mock
from routing.errors import DexUnavailable, InsufficientLiquidity, InvalidPair, NoRoute
from routing.swap import SwapResult
from routing.tokens import Token, resolve_token

DEXES = ("raydium", "meteora")
SPLIT = "split"
# The split search hands out the order in this many equal chunks, each to the
# venue whose next chunk returns the most.
SPLIT_CHUNKS = 40

# Quotes wait on (simulated) network latency, so threads overlap them well.
_quote_pool = ThreadPoolExecutor(
    max_workers=32, thread_name_prefix="quote", initializer=leave_signals_to_the_main_thread
)


@dataclass(frozen=True)
class Quote:
    dex: str
    amount_out: int  # 0 when the pool cannot fill the whole amount
    fee_bps: int
    price_impact_bps: int
    pool_id: int | None = None

    def to_json(self) -> dict:
        return {
            "dex": self.dex,
            "amountOut": str(self.amount_out),
            "feeBps": self.fee_bps,
            "priceImpactBps": self.price_impact_bps,
            "poolId": self.pool_id,
        }

    @classmethod
    def from_json(cls, data: dict) -> "Quote":
        return cls(
            data["dex"],
            int(data["amountOut"]),
            int(data["feeBps"]),
            int(data["priceImpactBps"]),
            data.get("poolId"),
        )


@dataclass(frozen=True)
class Leg:
    dex: str
    amount_in: int
    amount_out: int
    share_bps: int
    pool_id: int | None = None

    def to_json(self) -> dict:
        return {
            "dex": self.dex,
            "amountIn": str(self.amount_in),
            "amountOut": str(self.amount_out),
            "shareBps": self.share_bps,
            "poolId": self.pool_id,
        }

    @classmethod
    def from_json(cls, data: dict) -> "Leg":
        return cls(
            data["dex"],
            int(data["amountIn"]),
            int(data["amountOut"]),
            int(data["shareBps"]),
            data.get("poolId"),
        )


@dataclass(frozen=True)
class Route:
    token_in: Token
    token_out: Token
    amount_in: int
    dex: str
    expected_amount_out: int
    quotes: tuple[Quote, ...]
    legs: tuple[Leg, ...] = field(default=())
    # Why this route won, in a sentence, for logs and the order's history.
    reason: str = ""
    # The venues that did not answer (a simulated outage), each in a sentence:
    # the route is the best of the others, and may be worse than the market's.
    unanswered: tuple[str, ...] = ()

    def min_amount_out(self, slippage_bps: int) -> int:
        return self.expected_amount_out * (10_000 - slippage_bps) // 10_000

    def to_json(self) -> dict:
        """A JSON-serialisable form; amounts are base units as strings."""
        return {
            "tokenIn": self.token_in.symbol,
            "tokenOut": self.token_out.symbol,
            "amountIn": str(self.amount_in),
            "dex": self.dex,
            "expectedAmountOut": str(self.expected_amount_out),
            "quotes": [quote.to_json() for quote in self.quotes],
            "legs": [leg.to_json() for leg in self.legs],
            "reason": self.reason,
        }

    to_dict = to_json

    @classmethod
    def from_json(cls, data: dict) -> "Route":
        token_in, token_out = resolve_token(data["tokenIn"]), resolve_token(data["tokenOut"])
        if token_in is None or token_out is None:
            raise InvalidPair(f"unknown token in stored route: {data['tokenIn']} -> {data['tokenOut']}")
        return cls(
            token_in=token_in,
            token_out=token_out,
            amount_in=int(data["amountIn"]),
            dex=data["dex"],
            expected_amount_out=int(data["expectedAmountOut"]),
            quotes=tuple(Quote.from_json(quote) for quote in data["quotes"]),
            legs=tuple(Leg.from_json(leg) for leg in data["legs"]),
            reason=data.get("reason", ""),
        )


@dataclass
class Venue:
    """One pool, as loaded for this routing decision, in the order's direction."""

    pool_id: int
    dex: str
    state: object  # ConstantProductPool | DlmmPool
    a_to_b: bool

    def simulate(self, amount_in: int, now: int) -> SwapResult | None:
        """The swap of `amount_in` on the pool as loaded, or None if it cannot be filled."""
        if amount_in <= 0:
            return None
        try:
            return self.state.quote_swap(a_to_b=self.a_to_b, amount_in=amount_in, now=now)
        except InsufficientLiquidity:
            return None

    def quote(self, amount_in: int, now: int) -> Quote:
        result = self.simulate(amount_in, now)
        if result is None:
            return Quote(self.dex, 0, 0, 10_000, self.pool_id)
        return Quote(self.dex, result.amount_out, result.fee_bps, result.price_impact_bps, self.pool_id)


def _ask(venue: Venue, amount_in: int, now: int, wait: bool = True) -> Quote:
    mock.network_call(venue.dex, "quote", wait=wait)
    return venue.quote(amount_in, now)


class _Answered:
    """A quote computed on the spot, with a future's `result()`."""

    def __init__(self, ask, *args):
        self._ask, self._args = ask, args

    def result(self) -> Quote:
        return self._ask(*self._args)


def quote_venues(
    venues: list[Venue], amount_in: int, now: int, *, wait: bool = True
) -> tuple[list[tuple[Venue, Quote]], list[str]]:
    """Ask every venue at once; one quote's latency, not the sum of them."""
    if wait:
        futures = [(venue, _quote_pool.submit(_ask, venue, amount_in, now)) for venue in venues]
    else:
        # The latency was waited out by the caller: nothing to overlap.
        futures = [(venue, _Answered(_ask, venue, amount_in, now, False)) for venue in venues]
    answered, errors = [], []
    for venue, future in futures:
        try:
            answered.append((venue, future.result()))
        except DexUnavailable as exc:
            errors.append(str(exc))
    if not answered:
        raise DexUnavailable("; ".join(errors) or "no DEX answered")
    return answered, errors


def _chunks(amount: int, count: int) -> list[int]:
    count = max(1, min(count, amount))
    size, extra = divmod(amount, count)
    return [size + (1 if i < extra else 0) for i in range(count)]


def plan_split(
    venues: list[Venue], amount_in: int, now: int, *, chunks: int = SPLIT_CHUNKS
) -> list[tuple[Venue, int, int]]:
    """Share `amount_in` among venues greedily by marginal output.

    Each chunk goes to the venue whose output grows most by taking it, given
    what it already holds. Returns (venue, amount in, amount out) for each
    venue that got something; empty if no venue can take the first chunk.
    """
    allocated = [0] * len(venues)
    outputs = [0] * len(venues)
    for chunk in _chunks(amount_in, chunks):
        best, best_gain, best_out = None, -1, 0
        for index, venue in enumerate(venues):
            result = venue.simulate(allocated[index] + chunk, now)
            if result is None:
                continue
            gain = result.amount_out - outputs[index]
            if gain > best_gain:
                best, best_gain, best_out = index, gain, result.amount_out
        if best is None:
            return []
        allocated[best] += chunk
        outputs[best] = best_out
    return [(venue, allocated[i], outputs[i]) for i, venue in enumerate(venues) if allocated[i]]


def _best_venue_keeps_every_chunk(
    answered: list[tuple[Venue, Quote]],
    best_venue: Venue | None,
    best_quote: Quote | None,
    amount_in: int,
    now: int,
) -> bool:
    """Whether the split search would put every chunk on the best venue.

    Outputs are concave in the input (constant product; DLMM bins priced
    worse as a swap walks on, and fees that only grow), so the best venue's
    last chunk earns its least; if even that beats every other venue's first
    chunk, greedy allocation never leaves the best venue. Two simulations
    instead of a chunk-by-chunk search, for the small orders that are most.
    """
    if best_venue is None:
        return False
    chunks = _chunks(amount_in, SPLIT_CHUNKS)
    if len(chunks) < 2:
        return True
    without_last = best_venue.simulate(amount_in - chunks[-1], now)
    if without_last is None:
        return False
    last_gain = best_quote.amount_out - without_last.amount_out
    for venue, _ in answered:
        if venue is best_venue:
            continue
        first = venue.simulate(chunks[0], now)
        if first is not None and first.amount_out > last_gain:
            return False
    return True


def _legs(plan: list[tuple[Venue, int, int]], amount_in: int) -> tuple[Leg, ...]:
    legs, shares_left = [], 10_000
    for position, (venue, leg_in, leg_out) in enumerate(plan):
        share = shares_left if position == len(plan) - 1 else leg_in * 10_000 // amount_in
        shares_left -= share
        legs.append(Leg(venue.dex, leg_in, leg_out, share, venue.pool_id))
    return tuple(legs)


def _percent(better: int, worse: int) -> str:
    return f"{float(Fraction(better - worse, worse) * 100):.3f}%" if worse > 0 else "everything"


def choose_route(
    token_in: Token, token_out: Token, amount_in: int, answered: list[tuple[Venue, Quote]], now: int
) -> Route:
    """The best single venue, or a split across venues when that returns more."""
    quotes = tuple(quote for _, quote in answered)
    fillable = [(venue, quote) for venue, quote in answered if quote.amount_out > 0]
    best_venue, best_quote = max(fillable, key=lambda pair: pair[1].amount_out) if fillable else (None, None)
    runner_up = max((q.amount_out for _, q in fillable if q is not best_quote), default=0)

    worth_trying = len(answered) > 1 and not _best_venue_keeps_every_chunk(
        answered, best_venue, best_quote, amount_in, now
    )
    plan = plan_split([venue for venue, _ in answered], amount_in, now) if worth_trying else []
    split_out = sum(leg_out for _, _, leg_out in plan)
    if len(plan) > 1 and split_out > (best_quote.amount_out if best_quote else 0):
        legs = _legs(plan, amount_in)
        shares = " / ".join(f"{leg.dex} {leg.share_bps / 100:g}%" for leg in legs)
        if best_quote:
            gain = _percent(split_out, best_quote.amount_out)
            reason = f"splitting {shares} returns {gain} more than {best_quote.dex} alone"
        else:
            reason = f"no single venue can fill the amount; splitting {shares}"
        return Route(token_in, token_out, amount_in, SPLIT, split_out, quotes, legs, reason)

    if best_quote is None:
        if any(venue.simulate(amount_in, now) is not None for venue, _ in answered):
            # A venue could take it, for nothing: its fee (rounded up) or
            # the price leaves less than one base unit of tokenOut.
            raise NoRoute(
                f"the amount is too small: swapping it returns less than one base unit of {token_out.symbol}"
            )
        raise NoRoute(
            f"no venue has enough liquidity to swap this much {token_in.symbol} for {token_out.symbol}"
        )
    if len(answered) == 1:
        reason = f"only {best_quote.dex} answered"
    elif runner_up:
        others = ", ".join(q.dex for _, q in fillable if q is not best_quote)
        gain = _percent(best_quote.amount_out, runner_up)
        reason = f"{best_quote.dex} returns {gain} more than {others} after fees"
    else:
        reason = f"only {best_quote.dex} has enough liquidity"
    legs = (Leg(best_quote.dex, amount_in, best_quote.amount_out, 10_000, best_venue.pool_id),)
    return Route(token_in, token_out, amount_in, best_quote.dex, best_quote.amount_out, quotes, legs, reason)
