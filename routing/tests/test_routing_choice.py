"""The router quotes every venue at once and picks the best net output."""

import json
import logging
import threading
from types import SimpleNamespace
from unittest import mock

import pytest

import routing.mock
from routing import router
from routing.errors import DexUnavailable, InvalidPair, NoRoute
from routing.models import Pool
from routing.router import find_route, quote_all
from routing.tokens import TOKENS, resolve_token

SOL, USDC, USDT, BONK = (TOKENS[s] for s in ("SOL", "USDC", "USDT", "BONK"))


def test_it_picks_the_venue_with_the_best_net_output(market):
    route = find_route(token_in=SOL, token_out=USDC, amount_in=10**9)
    assert {quote.dex for quote in route.quotes} == {"raydium", "meteora"}
    best = max(route.quotes, key=lambda quote: quote.amount_out)
    assert (route.dex, route.expected_amount_out) == (best.dex, best.amount_out)
    assert route.legs == (router.Leg(best.dex, 10**9, best.amount_out, 10_000, best.pool_id),)


def test_each_venue_wins_somewhere_in_the_seeded_market(market):
    # Meteora quotes SOL higher; Raydium charges less to buy it.
    assert find_route(token_in=SOL, token_out=USDC, amount_in=10**9).dex == "meteora"
    assert find_route(token_in=USDC, token_out=SOL, amount_in=150 * 10**6).dex == "raydium"


def test_a_one_sol_order_has_negligible_impact_and_a_thousand_sol_order_moves_price(market):
    small = find_route(token_in=SOL, token_out=USDC, amount_in=10**9)
    assert all(quote.price_impact_bps <= 1 for quote in small.quotes)
    large = find_route(token_in=SOL, token_out=USDC, amount_in=1_000 * 10**9)
    assert all(50 <= quote.price_impact_bps <= 500 for quote in large.quotes)


def test_quotes_carry_fee_and_price_impact(market):
    quotes = {quote.dex: quote for quote in quote_all(token_in=SOL, token_out=USDC, amount_in=100 * 10**9)}
    assert quotes["raydium"].fee_bps == 25
    assert quotes["meteora"].fee_bps >= 10
    assert all(quote.price_impact_bps > 0 and quote.pool_id for quote in quotes.values())


def test_symbols_and_mints_route_the_same(market):
    wsol, bonk = resolve_token("So11111111111111111111111111111111111111112"), resolve_token("bonk")
    by_mint = find_route(token_in=wsol, token_out=bonk, amount_in=10**9)
    by_symbol = find_route(token_in=SOL, token_out=BONK, amount_in=10**9)
    assert by_mint.expected_amount_out == by_symbol.expected_amount_out > 7_000_000 * 10**5


def test_venues_are_quoted_concurrently(market, settings):
    """Both venues wait out their quote's latency at once: quoted one after
    the other, the first would wait at the barrier for a second that never
    comes, and fail when it breaks."""
    settings.MOCK_QUOTE_LATENCY_MS = (150, 150)
    both_waiting = threading.Barrier(2, timeout=10)
    latency = SimpleNamespace(sleep=lambda seconds: both_waiting.wait())
    with mock.patch.object(routing.mock, "time", latency):
        route = find_route(token_in=SOL, token_out=USDT, amount_in=10**9)
    assert len(route.quotes) == 2


def test_one_dex_failing_routes_to_the_other(market, settings):
    settings.MOCK_FAILURE_RATE = 0.5
    with mock.patch("routing.mock.rng", autospec=True) as rng:
        # Whichever venue asks second fails.
        rng.random.side_effect = [0.9, 0.1]
        route = find_route(token_in=SOL, token_out=USDC, amount_in=10**9)
    assert len(route.quotes) == 1
    assert route.dex == route.quotes[0].dex
    assert "simulated outage" in route.reason


def test_both_dexes_failing_raises_dex_unavailable(market, settings):
    settings.MOCK_FAILURE_RATE = 1.0
    with pytest.raises(DexUnavailable) as raised:
        find_route(token_in=SOL, token_out=USDC, amount_in=10**9)
    assert "raydium" in str(raised.value) and "meteora" in str(raised.value)
    assert raised.value.transient


def _raydium_down(dex: str, what: str, *, wait: bool = True) -> None:
    if dex == "raydium":
        raise DexUnavailable(f"{dex} did not answer the {what} request (simulated outage)")


def test_an_order_only_the_venue_that_is_down_can_fill_is_worth_another_attempt(market):
    """Meteora's SOL/USDC pool holds too little USDC for 20,000 SOL: with
    Raydium down, the order has no route now, not none for good."""
    quotes = {quote.dex: quote for quote in quote_all(token_in=SOL, token_out=USDC, amount_in=20_000 * 10**9)}
    assert quotes["meteora"].amount_out == 0 < quotes["raydium"].amount_out

    with mock.patch.object(routing.mock, "network_call", _raydium_down):
        with pytest.raises(DexUnavailable) as raised:
            find_route(token_in=SOL, token_out=USDC, amount_in=20_000 * 10**9)

    assert raised.value.transient
    assert "raydium did not answer" in str(raised.value)


def test_a_pair_without_pools_has_no_route(market):
    Pool.objects.filter(token_b="BONK").delete()
    with pytest.raises(NoRoute, match="SOL/BONK"):
        find_route(token_in=SOL, token_out=BONK, amount_in=10**9)


def test_an_amount_too_small_to_return_anything_is_refused_as_too_small_not_too_large(market):
    # One lamport: Raydium's fee, rounded up, takes all of it.
    with pytest.raises(NoRoute, match="too small"):
        find_route(token_in=SOL, token_out=USDC, amount_in=1)
    Pool.objects.filter(dex="raydium").delete()  # a constant product fills any amount
    with pytest.raises(NoRoute, match="enough liquidity"):
        find_route(token_in=SOL, token_out=USDC, amount_in=20_000 * 10**9)


def test_swapping_a_token_for_itself_is_an_invalid_pair(market):
    with pytest.raises(InvalidPair):
        find_route(token_in=SOL, token_out=SOL, amount_in=10**9)


def test_every_decision_is_logged_as_one_json_line(market, caplog):
    with caplog.at_level(logging.INFO, logger="routing"):
        route = find_route(token_in=SOL, token_out=USDC, amount_in=10**9)
    [record] = [r for r in caplog.records if r.getMessage().startswith("routing decision")]
    logged = json.loads(record.getMessage().removeprefix("routing decision "))
    assert logged["dex"] == route.dex
    assert len(logged["quotes"]) == 2
    assert "more than" in logged["reason"]
