"""Launching a token: its first pool holds what the operator asked for, and
a launch that would break the pool, or that another launch beat, is refused."""

from decimal import Decimal
from unittest import mock

import pytest
from django.db.models import QuerySet

from routing.errors import InvalidPair
from routing.launch import launch_token
from routing.models import Pool
from routing.tokens import TOKENS

SOL = TOKENS["SOL"]


@pytest.mark.parametrize("dex", ["raydium", "meteora"])
def test_a_launched_pool_holds_the_sol_asked_for(market, dex):
    pool = launch_token(symbol="NOVA", dex=dex, sol_liquidity=Decimal(1000), price=Decimal(1000))

    assert SOL.from_base_units(pool.reserve_a) == pytest.approx(Decimal(1000), rel=Decimal("0.001"))


def test_a_launch_too_small_to_hold_a_base_unit_is_refused(market):
    with pytest.raises(InvalidPair, match="too little"):
        launch_token(symbol="NOVA", dex="raydium", sol_liquidity=Decimal("0.0000000001"), price=Decimal(1000))

    assert not Pool.objects.filter(token_b="NOVA").exists()


def test_a_launch_that_another_beat_to_the_pool_is_refused(market):
    launch_token(symbol="NOVA", dex="raydium", sol_liquidity=Decimal(10), price=Decimal(1000))

    # As if the other launch committed after this one looked.
    with mock.patch.object(QuerySet, "exists", return_value=False):
        with pytest.raises(InvalidPair, match="already has a pool"):
            launch_token(symbol="NOVA", dex="raydium", sol_liquidity=Decimal(10), price=Decimal(1000))

    assert Pool.objects.filter(token_b="NOVA").count() == 1
