"""Every amount on the wire is a decimal string in units of its token: the
route's legs too, which the router builds in base units."""

from decimal import Decimal

import pytest
from django.test import Client

from orders.models import Order

pytestmark = pytest.mark.django_db


def test_route_legs_are_in_units_of_each_token_as_the_quotes_split_is(client: Client):
    order = Order.objects.create(
        amount=Decimal("1.5"),
        token_in="SOL",
        token_out="USDC",
        dex="split",
        route={
            "legs": [
                {"dex": "meteora", "amountIn": "900000000", "amountOut": "135414525", "shareBps": 6000},
                {"dex": "raydium", "amountIn": "600000000", "amountOut": "89772761", "shareBps": 4000},
            ]
        },
    )

    (meteora, raydium) = client.get(f"/api/orders/{order.pk}").json()["route"]

    assert (meteora["amountIn"], meteora["amountOut"], meteora["shareBps"]) == ("0.9", "135.414525", 6000)
    assert (raydium["amountIn"], raydium["amountOut"]) == ("0.6", "89.772761")
