"""seed_market, reset_market and the pool summaries."""

from decimal import Decimal

import pytest
from django.core.management import call_command

from routing.market import pool_summaries
from routing.models import Pool
from routing.router import execute_route, find_route
from routing.seed import SEEDS
from routing.tokens import TOKENS

pytestmark = pytest.mark.django_db


def test_seed_market_creates_the_pools_once():
    call_command("seed_market")
    first = {(pool.id, pool.reserve_a, pool.reserve_b) for pool in Pool.objects.all()}
    call_command("seed_market")
    assert {(pool.id, pool.reserve_a, pool.reserve_b) for pool in Pool.objects.all()} == first
    assert len(first) == len(SEEDS)
    pairs = {(pool.dex, pool.pair) for pool in Pool.objects.all()}
    for pair in ("SOL/USDC", "SOL/USDT", "USDC/USDT", "SOL/BONK"):
        assert {("raydium", pair), ("meteora", pair)} <= pairs


def test_seed_market_leaves_traded_pools_alone(market):
    execute_route(
        route=find_route(token_in=TOKENS["SOL"], token_out=TOKENS["USDC"], amount_in=10**12), min_amount_out=0
    )
    traded = {pool.id: (pool.reserve_a, pool.reserve_b) for pool in Pool.objects.all()}
    call_command("seed_market")
    assert {pool.id: (pool.reserve_a, pool.reserve_b) for pool in Pool.objects.all()} == traded


def test_reset_market_restores_the_seeded_state_and_keeps_ids(market):
    seeded = {
        pool.id: (pool.reserve_a, pool.reserve_b, pool.active_id, pool.bins) for pool in Pool.objects.all()
    }
    execute_route(
        route=find_route(token_in=TOKENS["SOL"], token_out=TOKENS["USDC"], amount_in=5 * 10**12),
        min_amount_out=0,
    )
    assert {
        pool.id: (pool.reserve_a, pool.reserve_b, pool.active_id, pool.bins) for pool in Pool.objects.all()
    } != seeded
    call_command("reset_market")
    assert {
        pool.id: (pool.reserve_a, pool.reserve_b, pool.active_id, pool.bins) for pool in Pool.objects.all()
    } == seeded


def test_the_seeded_market_is_mainnet_deep_and_prices_sol_near_150(market):
    summaries = {(s["dex"], s["pair"]): s for s in pool_summaries()}
    for dex in ("raydium", "meteora"):
        sol_usdc = summaries[dex, "SOL/USDC"]
        assert Decimal(145) < Decimal(sol_usdc["price"]) < Decimal(155)
        sol_value = Decimal(sol_usdc["depthA"]) + Decimal(sol_usdc["depthB"]) / Decimal(sol_usdc["price"])
        assert sol_value > 20_000
    spread = (
        Decimal(summaries["meteora", "SOL/USDC"]["price"])
        / Decimal(summaries["raydium", "SOL/USDC"]["price"])
        - 1
    )
    assert Decimal("0.002") < abs(spread) < Decimal("0.03")


def test_pool_summaries_describe_every_pool(market):
    summaries = pool_summaries()
    assert len(summaries) == len(SEEDS)
    for summary in summaries:
        assert {"dex", "pair", "price", "depthA", "depthB", "feeBps"} <= summary.keys()
        assert Decimal(summary["price"]) > 0 and summary["feeBps"] > 0
    meteora = next(s for s in summaries if s["dex"] == "meteora")
    assert {"binStep", "activeId"} <= meteora.keys()


def test_pools_are_stored_with_all_their_digits():
    call_command("seed_market")
    bonk = Pool.objects.get(dex="raydium", token_b="BONK")
    assert bonk.reserve_b == 9_000_000_000_000_000  # 90 billion BONK
    # Past 2**64, where SQLite would fall back to a float.
    bonk.reserve_b = 123_456_789_012_345_678_901
    bonk.save(update_fields=["reserve_b"])
    bonk.refresh_from_db()
    assert bonk.reserve_b == 123_456_789_012_345_678_901
