"""A process keeps the pools it read or wrote in memory, and uses them only
while the row still has the version it saw: another writer, or a rolled-back
swap, never leaves a session quoting stale pools."""

import pytest
from django.db import transaction

from routing import session
from routing.drift import apply_drift
from routing.models import Pool
from routing.router import execute_route, find_route
from routing.seed import seed_market
from routing.tokens import TOKENS

SOL, USDC = TOKENS["SOL"], TOKENS["USDC"]


@pytest.fixture
def market(transactional_db):
    """Committed pools: what a session keeps is kept when its transaction commits."""
    seed_market()
    session._known_states.clear()
    return {(pool.dex, pool.pair): pool for pool in Pool.objects.all()}


def quote(amount: int = 10**9) -> dict[str, int]:
    return {q.dex: q.amount_out for q in find_route(token_in=SOL, token_out=USDC, amount_in=amount).quotes}


def fresh_quote(amount: int = 10**9) -> dict[str, int]:
    """The same quote from the rows alone, with this process's memory emptied."""
    session._known_states.clear()
    return quote(amount)


def test_every_write_raises_the_pool_version(market):
    pool = market["meteora", "SOL/USDC"]
    before = pool.version
    execute_route(route=find_route(token_in=SOL, token_out=USDC, amount_in=10**9), min_amount_out=0)
    pool.refresh_from_db()
    assert pool.version == before + 1


def test_a_pool_read_twice_is_decoded_once_while_its_row_is_unchanged(market, monkeypatch):
    first = quote()
    decoded = []
    original = Pool.state
    monkeypatch.setattr(Pool, "state", lambda pool: decoded.append(pool.id) or original(pool))
    assert quote() == first
    assert decoded == []


def test_a_swap_by_this_process_is_seen_by_its_next_session(market, monkeypatch):
    before = quote(100 * 10**9)
    execute_route(route=find_route(token_in=SOL, token_out=USDC, amount_in=500 * 10**9), min_amount_out=0)
    decoded = []
    original = Pool.state
    monkeypatch.setattr(Pool, "state", lambda pool: decoded.append(pool.id) or original(pool))
    after = quote(100 * 10**9)
    assert decoded == [], "the swapped pools were read again instead of kept"
    monkeypatch.undo()
    assert after == fresh_quote(100 * 10**9)
    assert all(after[dex] < before[dex] for dex in before)


def test_the_row_holds_the_bins_of_the_state_a_process_kept_across_swaps(market):
    for amount in (500, 30, 900):
        route = find_route(token_in=SOL, token_out=USDC, amount_in=amount * 10**9)
        execute_route(route=route, min_amount_out=0)
    pool = Pool.objects.get(pk=market["meteora", "SOL/USDC"].pk)
    _version, kept = session._known_states[pool.id]
    assert pool.bins == {str(i): amounts for i, amounts in kept.bins.items()}
    assert pool.active_id == kept.active_id
    assert pool.swaps_executed >= 1


def write_elsewhere(pool: Pool, amount: int = 500 * 10**9) -> Pool:
    """A swap written to the row as another process would: this one's memory is not told."""
    row = Pool.objects.get(pk=pool.pk)
    state = row.state()
    state.swap(a_to_b=True, amount_in=amount, now=0)
    row.write(state)
    return row


def test_another_writer_makes_the_kept_state_stale(market):
    quote()
    write_elsewhere(market["meteora", "SOL/USDC"])
    write_elsewhere(market["raydium", "SOL/USDC"])
    assert quote() == fresh_quote()


def test_a_rolled_back_swap_leaves_nothing_behind(market):
    before = quote(100 * 10**9)
    with pytest.raises(RuntimeError), transaction.atomic():
        execute_route(route=find_route(token_in=SOL, token_out=USDC, amount_in=500 * 10**9), min_amount_out=0)
        raise RuntimeError("the order's transaction failed after the swap")
    assert quote(100 * 10**9) == before == fresh_quote(100 * 10**9)


def test_a_pool_that_moves_between_a_sessions_read_and_its_bins_is_taken_whole(market):
    """A session reads the rows without their bins, and the bins of the pools
    it has not kept afterwards. A pool written in between is taken as the row
    is then, whole: its newer bins never go with its older active bin, and it
    is kept under the version it has."""
    pool = market["meteora", "SOL/USDC"]
    reading = session.MarketSession([(SOL, USDC)])  # the rows, not yet their bins
    row = Pool.objects.get(pk=pool.pk)
    state = row.state()
    state.swap(a_to_b=True, amount_in=500 * 10**9, now=0)
    row.write(state)
    assert row.active_id != pool.active_id, "the swap did not move the active bin"

    quoted = {q.dex: q.amount_out for q in reading.quote_all(token_in=SOL, token_out=USDC, amount_in=10**9)}

    assert session._known_states[pool.pk][0] == row.version
    assert quoted == fresh_quote()


def test_the_drift_decodes_a_pool_again_only_when_another_writer_moved_it(market, monkeypatch):
    apply_drift()
    decoded = []
    original = Pool.state
    monkeypatch.setattr(Pool, "state", lambda pool: decoded.append(pool.id) or original(pool))
    apply_drift()
    assert decoded == [], "the drift decoded pools it wrote itself"
    moved = market["meteora", "SOL/USDC"]
    monkeypatch.undo()
    write_elsewhere(moved)
    monkeypatch.setattr(Pool, "state", lambda pool: decoded.append(pool.id) or original(pool))
    apply_drift()
    assert decoded == [moved.pk]


def test_the_rows_the_drift_wrote_hold_the_states_it_keeps(market):
    for _ in range(4):
        apply_drift()
    write_elsewhere(market["meteora", "SOL/USDC"])
    apply_drift()
    for pool in Pool.objects.all():
        version, kept = session._known_states[pool.pk]
        assert version == pool.version
        assert kept == pool.state()  # every field: reserves, bins, fees' variables, timestamps


def test_a_rolled_back_drift_leaves_nothing_behind(market):
    apply_drift()  # every pool's state kept
    rows = {pool.pk: (pool.version, pool.reserve_a, pool.reserve_b) for pool in Pool.objects.all()}
    assert set(rows) <= set(session._known_states)
    with pytest.raises(RuntimeError), transaction.atomic():
        apply_drift()
        raise RuntimeError("rolled back")
    assert {pool.pk: (pool.version, pool.reserve_a, pool.reserve_b) for pool in Pool.objects.all()} == rows
    assert not set(rows) & set(session._known_states)
    assert quote() == fresh_quote()


class NoTrade:
    """Other traders who trade nothing: every trade's size comes out zero."""

    def random(self):
        return 0.5

    def expovariate(self, rate):
        return 0.0


def test_a_drift_step_that_trades_nothing_keeps_the_state_as_it_was(market, monkeypatch):
    apply_drift()
    before = {pool.pk: (pool.version, pool.state()) for pool in Pool.objects.all()}
    monkeypatch.setattr("routing.mock.rng", NoTrade())
    apply_drift()
    assert {pool.pk: pool.version for pool in Pool.objects.all()} == {pk: v for pk, (v, _) in before.items()}
    assert {pk: session._known_states[pk] for pk in before} == before
