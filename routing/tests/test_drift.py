"""Other traders move the pools a little, reproducibly, without breaking them."""

import random
from unittest import mock

import pytest

from routing.drift import apply_drift
from routing.models import Pool


def snapshot():
    return {pool.id: (pool.reserve_a, pool.reserve_b, pool.active_id) for pool in Pool.objects.all()}


def test_drift_moves_every_pool_a_little(market):
    before, prices = snapshot(), {pool.id: pool.price() for pool in Pool.objects.all()}
    with mock.patch("routing.mock.rng", random.Random(7)):
        for _ in range(5):
            apply_drift()
    after = snapshot()
    # A small trade on a DLMM pool may stay inside its bin: its reserves move, its price not.
    assert all(after[pool_id] != before[pool_id] for pool_id in before)
    for pool in Pool.objects.all():
        assert abs(pool.price() / prices[pool.id] - 1) < 0.05


def test_drift_is_reproducible_from_the_seed(market):
    with mock.patch("routing.mock.rng", random.Random(42)):
        apply_drift()
        apply_drift()
    first = snapshot()
    from routing.seed import reset_market

    reset_market()
    with mock.patch("routing.mock.rng", random.Random(42)):
        apply_drift()
        apply_drift()
    assert snapshot() == first


def test_drift_pulls_prices_back_towards_where_they_were_seeded(market):
    raydium = market["raydium", "SOL/USDC"]
    seeded = raydium.price()
    # Push the pool 5 % down, then let the market trade for a while.
    raydium.reserve_a, raydium.reserve_b = raydium.reserve_a * 105 // 100, raydium.reserve_b * 100 // 105
    raydium.save()
    pushed = raydium.price()
    with mock.patch("routing.mock.rng", random.Random(3)):
        for _ in range(60):
            apply_drift()
    raydium.refresh_from_db()
    assert abs(raydium.price() - seeded) < abs(pushed - seeded) / 2


@pytest.mark.django_db
def test_drift_on_an_empty_market_does_nothing():
    assert apply_drift() == 0


def test_the_clock_drifts_one_pool_a_step_and_every_pool_once_a_round(market):
    from routing.drift import Drift

    versions = {pool.id: pool.version for pool in Pool.objects.all()}
    drift = Drift()
    waits = []
    with mock.patch("routing.mock.rng", random.Random(11)):
        for step in range(len(versions)):
            waits.append(drift.step(5.0))
            moved = [pool.id for pool in Pool.objects.all() if pool.version != versions[pool.id]]
            assert len(moved) == step + 1  # one more pool each step
    assert waits == [5.0 / len(versions)] * len(versions)
