"""Bad input gets a 4xx JSON error naming the field; nothing is stored."""

import json

import pytest
from django.test import Client

from orders.models import Order

BAD_BODIES = [
    ({}, "amount"),
    ({"amount": 0}, "amount"),
    ({"amount": -1}, "amount"),
    ({"amount": "-0.5"}, "amount"),
    ({"amount": "NaN"}, "amount"),
    ({"amount": "Infinity"}, "amount"),
    ({"amount": "1e400"}, "amount"),
    ({"amount": "1.0000000001"}, "amount"),  # SOL has 9 decimals
    ({"amount": "1.0000001", "tokenIn": "USDC", "tokenOut": "SOL"}, "amount"),  # USDC has 6
    ({"amount": True}, "amount"),
    ({"amount": [1]}, "amount"),
    ({"amount": {"value": 1}}, "amount"),
    ({"amount": None}, "amount"),
    ({"amount": "abc"}, "amount"),
    ({"amount": ""}, "amount"),
    # Decimal() reads these as 15 and 1.5; no trader writes them so.
    ({"amount": "1_5"}, "amount"),
    ({"amount": "\uff11.\uff15"}, "amount"),
    ({"amount": 1, "type": "limit", "limitPrice": "15_0"}, "limitPrice"),
    ({"amount": 1, "tokenIn": "DOGE"}, "tokenIn"),
    ({"amount": 1, "tokenOut": 42}, "tokenOut"),
    ({"amount": 1, "tokenIn": "USDC", "tokenOut": "USDC"}, "tokenOut"),
    ({"amount": 1, "tokenIn": "SOL", "tokenOut": "So11111111111111111111111111111111111111112"}, "tokenOut"),
    ({"amount": 1, "slippageBps": -1}, "slippageBps"),
    ({"amount": 1, "slippageBps": 10001}, "slippageBps"),
    ({"amount": 1, "slippageBps": 1.5}, "slippageBps"),
    ({"amount": 1, "slippageBps": "50"}, "slippageBps"),
    ({"amount": 1, "slippageBps": False}, "slippageBps"),
    ({"amount": 1, "type": "stop-loss"}, "type"),
    ({"amount": 1, "type": ["market"]}, "type"),
    ({"amount": 1, "slipageBps": 10}, "slipageBps"),
    # A new token's first pool trades it against SOL: paid in USDC, it would never fire.
    ({"amount": 10, "type": "sniper", "tokenIn": "USDC", "tokenOut": "NOVA", "maxPrice": "0.001"}, "tokenIn"),
    # Prices are kept to 18 places: this one would be kept as 0.
    ({"amount": 1, "type": "sniper", "tokenOut": "NOVA", "maxPrice": "0.0000000000000000001"}, "maxPrice"),
    ({"amount": 1, "type": "limit", "limitPrice": "150.1234567890123456789"}, "limitPrice"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "field"), BAD_BODIES, ids=[json.dumps(b)[:40] for b, _ in BAD_BODIES])
def test_it_rejects_a_bad_order_naming_the_field(body, field):
    response = Client().post("/api/orders/execute", json.dumps(body), content_type="application/json")

    assert response.status_code == 400
    answer = response.json()
    assert field in answer["fields"], answer
    assert field in answer["error"]
    assert Order.objects.count() == 0


RAW_BODIES = [
    (b"{not json", "application/json", 400),
    (b"[1, 2]", "application/json", 400),
    (b'"amount"', "application/json", 400),
    (b"", "application/json", 400),
    (b'{"amount": NaN}', "application/json", 400),
    (b"amount=1", "application/x-www-form-urlencoded", 415),
    (b'{"amount": "1", "pad": "' + b"x" * 70_000 + b'"}', "application/json", 413),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("raw", "content_type", "status"), RAW_BODIES, ids=lambda v: str(v)[:30])
def test_it_answers_unparseable_bodies_with_a_json_error(raw, content_type, status):
    response = Client().post("/api/orders/execute", raw, content_type=content_type)

    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]
    assert Order.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", "/api/orders/execute", 405),
        ("put", "/api/orders/execute", 405),
        ("delete", "/api/orders", 405),
        ("get", "/api/orders/not-a-uuid", 404),
        ("get", "/api/orders/00000000-0000-0000-0000-000000000000", 404),
        ("get", "/api/nothing-here", 404),
        ("get", "/api/orders?status=lost", 400),
    ],
)
def test_wrong_methods_and_unknown_paths_get_json_errors(method, path, status):
    response = getattr(Client(), method)(path)

    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]


@pytest.mark.django_db
@pytest.mark.parametrize("https_redirect", [False, True])
@pytest.mark.parametrize("path", ["/api/health", "/api/orders/execute", "/api/nothing-here"])
def test_a_host_not_allowed_gets_a_json_error_naming_the_header(path, https_redirect, settings):
    """Django refuses it (ALLOWED_HOSTS) before any view, with an HTML page;
    with the HTTPS redirect on (production), SecurityMiddleware does."""
    settings.SECURE_SSL_REDIRECT = https_redirect
    response = Client().post(
        path, b'{"amount": "1"}', content_type="application/json", HTTP_HOST="elsewhere.example"
    )

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "Host header" in response.json()["error"]
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_an_error_of_a_view_rendered_as_yaml_keeps_its_sentence_and_headers():
    """The schema's view renders YAML, its errors included."""
    response = Client().post("/api/schema")

    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": "Method POST is not allowed here."}
    assert "GET" in response["Allow"]


@pytest.mark.django_db(transaction=True)
def test_the_smallest_valid_order_is_just_an_amount():
    response = Client().post("/api/orders/execute", '{"amount": 100}', content_type="application/json")

    assert response.status_code == 202
    order = Order.objects.get(pk=response.json()["orderId"])
    assert (order.token_in, order.token_out, order.slippage_bps, order.type) == ("SOL", "USDC", 50, "market")
    assert str(order.amount.normalize()) == "1E+2"


def test_requests_validated_one_after_another_share_no_field_state():
    """Each request's fields are copies of the declared ones, so what one
    request's validation sets on them cannot leak into the next."""
    from orders.api.validation import OrderRequestSerializer

    refused = OrderRequestSerializer(data={"amount": "-1", "slippageBps": 20000})
    assert not refused.is_valid()
    accepted = OrderRequestSerializer(data={"amount": "1.5"})
    assert accepted.is_valid(), accepted.errors

    assert accepted.validated_data["slippageBps"] == 50
    assert accepted.fields["amount"] is not refused.fields["amount"]
    assert accepted.fields["amount"].parent is accepted
    assert OrderRequestSerializer._declared_fields["amount"].parent is None


@pytest.mark.django_db
def test_a_limit_order_on_a_pair_no_pool_trades_is_refused(market):
    limit = {"amount": 100, "type": "limit", "limitPrice": "1"}
    no_pool = {**limit, "tokenIn": "USDT", "tokenOut": "BONK"}  # routes do not go through SOL

    refused = Client().post("/api/orders/execute", json.dumps(no_pool), content_type="application/json")

    assert refused.status_code == 400
    assert refused.json()["fields"] == {
        "tokenOut": ["no pool trades USDT for BONK: a limit order needs one whose price it can watch"]
    }
    assert Order.objects.count() == 0
    not_against_sol = {**limit, "tokenIn": "USDC", "tokenOut": "NOVA"}  # it will launch against SOL
    assert (
        Client()
        .post("/api/orders/execute", json.dumps(not_against_sol), content_type="application/json")
        .status_code
        == 400
    )
    before_its_launch = {**limit, "tokenIn": "SOL", "tokenOut": "NOVA"}  # its first pool will trade it
    assert (
        Client()
        .post("/api/orders/execute", json.dumps(before_its_launch), content_type="application/json")
        .status_code
        == 202
    )
    either_way = {**limit, "tokenIn": "USDT", "tokenOut": "USDC"}  # the pool is USDC/USDT
    assert (
        Client()
        .post("/api/orders/execute", json.dumps(either_way), content_type="application/json")
        .status_code
        == 202
    )


@pytest.mark.django_db(transaction=True)
def test_whole_numbers_written_with_a_point_are_whole_numbers():
    raw = (
        '{"amount": 1, "type": "limit", "limitPrice": "10000", "slippageBps": 75.0, "expiresInSeconds": 6e1}'
    )

    response = Client().post("/api/orders/execute", raw, content_type="application/json")

    assert response.status_code == 202, response.json()
    order = Order.objects.get(pk=response.json()["orderId"])
    assert order.slippage_bps == 75
    assert (order.expires_at - order.created_at).total_seconds() == pytest.approx(60, abs=1)


@pytest.mark.django_db
@pytest.mark.parametrize("number", ["50.5", "1e999999", "-1.0"])
def test_a_number_that_is_no_whole_number_of_basis_points_is_named(number):
    raw = '{"amount": 1, "slippageBps": ' + number + "}"

    response = Client().post("/api/orders/execute", raw, content_type="application/json")

    assert response.status_code == 400
    assert "slippageBps" in response.json()["fields"]
    assert not Order.objects.exists()
