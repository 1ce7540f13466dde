"""The router: quote every venue concurrently, pick the best net output.

This is the interface the order engine uses, one order at a time:

- `find_route(token_in=, token_out=, amount_in=)` -> `Route` (base units)
- `execute_route(route=, min_amount_out=)` -> amount out, applied to the
  market; call it inside `transaction.atomic()` so the swap and the order's
  confirmation commit together or not at all.
- `Route.to_json()` / `Route.from_json()` so a route can be stored and
  executed later, by another process.

For many orders in a row, `routing.session.MarketSession` does the same on
pools read once. How a route is chosen is in `routing.routes`.
"""

from django.db import transaction

from routing.routes import DEXES, SPLIT, SPLIT_CHUNKS, Leg, Quote, Route, Venue, choose_route, plan_split
from routing.session import MarketSession
from routing.tokens import Token

__all__ = [
    "DEXES",
    "SPLIT",
    "SPLIT_CHUNKS",
    "Leg",
    "Quote",
    "Route",
    "Venue",
    "choose_route",
    "plan_split",
    "quote_all",
    "find_route",
    "simulate_route",
    "execute_route",
]


def quote_all(*, token_in: Token, token_out: Token, amount_in: int) -> list[Quote]:
    """One quote per pool that answered, fetched concurrently."""
    session = MarketSession([(token_in, token_out)])
    return session.quote_all(token_in=token_in, token_out=token_out, amount_in=amount_in)


def simulate_route(*, token_in: Token, token_out: Token, amount_in: int) -> Route:
    """The route `find_route` would choose now, computed locally: no DEX is
    asked, so no latency and no simulated outage. For deciding whether a
    waiting order's trigger has fired, not for executing it."""
    session = MarketSession([(token_in, token_out)])
    return session.simulate_route(token_in=token_in, token_out=token_out, amount_in=amount_in)


def find_route(*, token_in: Token, token_out: Token, amount_in: int, wait: bool = True) -> Route:
    """Quote every venue and choose. `wait=False` skips the simulated network
    latency, for a caller that already waited it out on a timer; simulated
    outages still happen."""
    session = MarketSession([(token_in, token_out)])
    return session.find_route(token_in=token_in, token_out=token_out, amount_in=amount_in, wait=wait)


def execute_route(*, route: Route, min_amount_out: int) -> int:
    """Swap along the route now, on the pools as they are now.

    Raises SlippageExceeded, having swapped nothing, if the output would be
    below `min_amount_out`.
    """
    with transaction.atomic():
        session = MarketSession([(route.token_in, route.token_out)], for_update=True)
        fill = session.fill(route, min_amount_out=min_amount_out)
        session.apply(fill)
        session.save()
    return fill.amount_out
