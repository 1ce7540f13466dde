"""The dashboard's order form without JavaScript: a slippage it cannot take
gets the form back with the field's error, never a 500 or a stalled process."""

import pytest
from django.test import Client

from orders.models import Order

pytestmark = pytest.mark.django_db


def post_order(slippage: str, unit: str):
    form = {"amount": "1", "tokenIn": "SOL", "tokenOut": "USDC", "slippage": slippage, "slippageUnit": unit}
    return Client().post("/", form)


@pytest.mark.parametrize(
    "slippage, unit",
    [
        ("1e999999999", "bps"),  # integral: int() of it would run for minutes
        ("1e999999999", "pct"),  # past Decimal's range once multiplied
        ("sNaN", "pct"),
        ("5_0", "bps"),
        ("NaN", "bps"),
        ("Infinity", "bps"),
        ("-1", "bps"),
        ("10001", "bps"),
        ("100.01", "pct"),
        ("0.005", "pct"),  # half a basis point
        ("half", "pct"),
    ],
)
def test_a_slippage_the_engine_cannot_take_gets_the_form_back_naming_it(slippage, unit):
    response = post_order(slippage, unit)

    assert response.status_code == 400
    assert "slippageBps" in response.context["errors"]
    assert not Order.objects.exists()


def test_a_slippage_in_percent_is_placed_in_basis_points(market):
    response = post_order("1.25", "pct")

    assert response.status_code == 302
    assert Order.objects.get().slippage_bps == 125


@pytest.mark.parametrize("expires_in", ["3_600", "\uff13\uff16\uff10\uff10", "an hour"])
def test_an_expiry_that_is_not_plain_whole_seconds_gets_the_form_back_naming_it(expires_in, market):
    form = {"type": "limit", "amount": "1", "tokenIn": "SOL", "tokenOut": "USDC", "limitPrice": "200"}
    response = Client().post("/", {**form, "slippage": "50", "slippageUnit": "bps", "expiresIn": expires_in})

    assert response.status_code == 400
    assert "expiresInSeconds" in response.context["errors"]
    assert not Order.objects.exists()
