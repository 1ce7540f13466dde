"""Executing a route changes the pools, atomically, for everyone after."""

import threading

import pytest
from django.db import connection

from routing.errors import SlippageExceeded
from routing.models import Pool
from routing.router import Leg, Route, execute_route, find_route
from routing.tokens import TOKENS

SOL, USDC = TOKENS["SOL"], TOKENS["USDC"]


def reserves(pool: Pool) -> tuple[int, int]:
    pool.refresh_from_db()
    return pool.reserve_a, pool.reserve_b


def test_executing_returns_the_quoted_amount_when_nothing_moved(market):
    route = find_route(token_in=SOL, token_out=USDC, amount_in=10 * 10**9)
    assert execute_route(route=route, min_amount_out=route.min_amount_out(50)) == route.expected_amount_out


def test_a_large_swap_moves_the_next_quote(market):
    before = find_route(token_in=SOL, token_out=USDC, amount_in=10**9)
    large = find_route(token_in=SOL, token_out=USDC, amount_in=2_000 * 10**9)
    execute_route(route=large, min_amount_out=0)
    after = find_route(token_in=SOL, token_out=USDC, amount_in=10**9)
    for dex in ("raydium", "meteora"):
        quoted = {q.dex: q.amount_out for q in before.quotes}[dex]
        requoted = {q.dex: q.amount_out for q in after.quotes}[dex]
        assert requoted < quoted * 0.99, dex


def test_the_swap_is_applied_to_the_pool_as_it_is_at_execution(market):
    route = find_route(token_in=SOL, token_out=USDC, amount_in=100 * 10**9)
    # Someone else sells first.
    execute_route(route=find_route(token_in=SOL, token_out=USDC, amount_in=500 * 10**9), min_amount_out=0)
    assert execute_route(route=route, min_amount_out=0) < route.expected_amount_out


def test_below_the_minimum_it_raises_and_swaps_nothing(market):
    route = find_route(token_in=SOL, token_out=USDC, amount_in=100 * 10**9)
    execute_route(route=find_route(token_in=SOL, token_out=USDC, amount_in=3_000 * 10**9), min_amount_out=0)
    pools = [market["raydium", "SOL/USDC"], market["meteora", "SOL/USDC"]]
    before = [reserves(pool) for pool in pools]
    with pytest.raises(SlippageExceeded) as raised:
        execute_route(route=route, min_amount_out=route.min_amount_out(50))
    message = str(raised.value)
    assert "below the minimum of" in message and "USDC" in message
    assert str(USDC.from_base_units(route.min_amount_out(50))) in message
    assert [reserves(pool) for pool in pools] == before


def test_min_amount_out_applies_the_slippage_rounding_down():
    route = Route(SOL, USDC, 1, "raydium", 1_000_001, ())
    assert route.min_amount_out(50) == 995_000  # floor(1,000,001 * 9,950 / 10,000)
    assert route.min_amount_out(0) == 1_000_001


def test_a_stored_route_round_trips_through_json_and_executes_later(market):
    import json

    route = find_route(token_in=SOL, token_out=USDC, amount_in=5_000 * 10**9)
    stored = json.loads(json.dumps(route.to_json()))
    restored = Route.from_json(stored)
    assert restored == route
    assert execute_route(route=restored, min_amount_out=0) == route.expected_amount_out


@pytest.mark.django_db(transaction=True)
def test_concurrent_executions_keep_reserves_consistent():
    from routing.seed import seed_market

    seed_market()
    raydium = Pool.objects.get(dex="raydium", token_a="SOL", token_b="USDC")
    meteora = Pool.objects.get(dex="meteora", token_a="SOL", token_b="USDC")
    start_ray, start_met_y = reserves(raydium), meteora.reserve_b
    outputs = {"raydium": [], "meteora": []}
    per_thread, errors = [], []

    def trade(dex: str, pool_id: int, amount: int):
        fills = []
        per_thread.append((dex, fills))
        try:
            for _ in range(5):
                route = Route(SOL, USDC, amount, dex, 0, (), (Leg(dex, amount, 0, 10_000, pool_id),))
                fills.append(execute_route(route=route, min_amount_out=0))
                outputs[dex].append(fills[-1])
        except Exception as exc:  # surfaced below: threads cannot fail a test on their own
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=trade, args=(dex, pool.id, (i + 1) * 10**9))
        for i in range(4)
        for dex, pool in (("raydium", raydium), ("meteora", meteora))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    sold = 5 * sum((i + 1) * 10**9 for i in range(4))
    # No lost update: every swap is in the reserves, once.
    assert reserves(raydium) == (start_ray[0] + sold, start_ray[1] - sum(outputs["raydium"]))
    assert reserves(meteora)[1] == start_met_y - sum(outputs["meteora"])
    assert len(outputs["raydium"]) == len(outputs["meteora"]) == 20
    assert reserves(raydium)[0] * reserves(raydium)[1] >= start_ray[0] * start_ray[1]
    # On the curve, every sell lowered the price for the next one, whichever thread made it.
    for dex, fills in per_thread:
        if dex == "raydium":
            assert fills == sorted(fills, reverse=True) and len(set(fills)) == len(fills)
