import pytest

from routing import session
from routing.models import Pool
from routing.seed import SEEDS, seed_key, seed_market, seeded_fields


@pytest.fixture(autouse=True)
def no_latency(settings):
    """Quotes answer at once and never fail, unless a test says otherwise."""
    settings.MOCK_QUOTE_LATENCY_MS = (0, 0)
    settings.MOCK_FAILURE_RATE = 0.0


@pytest.fixture(autouse=True)
def no_kept_pool_states():
    """Each test starts with no pool state kept in memory: pool ids and
    versions start over when a test's database is rolled back or flushed."""
    session._known_states.clear()
    yield
    session._known_states.clear()


@pytest.fixture
def market(db):
    """The seeded market in the database; pools by (dex, "A/B")."""
    seed_market()
    return {(pool.dex, pool.pair): pool for pool in Pool.objects.all()}


def seeded_pool(dex: str, pair: str) -> Pool:
    """An unsaved seeded pool, for arithmetic that needs no database."""
    for seed in SEEDS:
        key = seed_key(seed)
        if (key[0], f"{key[1]}/{key[2]}") == (dex, pair):
            return Pool(dex=key[0], token_a=key[1], token_b=key[2], **seeded_fields(seed))
    raise LookupError(pair)
