"""The spot prices a trigger check reads after every pool update come from
the pools' rows without their bins, with no further query, and are the
prices their whole state gives."""

from routing.market import pools_for_pair
from routing.models import Pool
from routing.tokens import TOKENS


def test_a_pool_read_without_its_bins_gives_its_states_spot_price(market, django_assert_num_queries):
    pairs = {(pool.token_a, pool.token_b) for pool in Pool.objects.all()}
    for token_a, token_b in pairs:
        pools = pools_for_pair(TOKENS[token_a], TOKENS[token_b])
        with django_assert_num_queries(0):
            prices = {pool.pk: pool.price() for pool in pools}
        for pool in Pool.objects.filter(pk__in=prices):
            assert prices[pool.pk] == pool.state_price(pool.state())
