"""Duplicates, floods and strangers: idempotency keys, rate limits,
back-pressure and API keys, against real Redis and a real database."""

import json
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from orders.models import ApiKey, Order

pytestmark = pytest.mark.django_db(transaction=True)


def post(body, client=None, **headers):
    return (client or Client()).post(
        "/api/orders/execute", json.dumps(body), content_type="application/json", headers=headers
    )


@pytest.fixture(autouse=True)
def fresh_rate_budget():
    cache.clear()  # the test Redis database only


def test_the_same_idempotency_key_and_body_returns_the_same_order():
    first = post({"amount": "2"}, **{"Idempotency-Key": "abc-1"})
    again = post({"amount": "2.0"}, **{"Idempotency-Key": "abc-1"})

    assert first.status_code == again.status_code == 202
    assert first.json()["orderId"] == again.json()["orderId"]
    assert Order.objects.count() == 1


def test_the_same_idempotency_key_with_another_body_is_a_conflict():
    post({"amount": "2"}, **{"Idempotency-Key": "abc-2"})
    conflict = post({"amount": "3"}, **{"Idempotency-Key": "abc-2"})

    assert conflict.status_code == 409
    assert "Idempotency-Key" in conflict.json()["error"]
    assert Order.objects.count() == 1


def test_an_idempotency_key_is_forgotten_after_a_day():
    first = post({"amount": "2"}, **{"Idempotency-Key": "abc-3"})
    Order.objects.filter(pk=first.json()["orderId"]).update(created_at=timezone.now() - timedelta(hours=25))

    later = post({"amount": "3"}, **{"Idempotency-Key": "abc-3"})

    assert later.status_code == 202
    assert later.json()["orderId"] != first.json()["orderId"]
    assert Order.objects.count() == 2


def test_a_sniper_order_sent_again_after_its_token_launched_is_the_order_it_placed(market, no_engine):
    # Its answer was lost; by the time it is sent again the token trades,
    # which would refuse a new sniper order. A client told so might place a
    # market order instead, and buy twice.
    body = {"type": "sniper", "amount": "1", "tokenOut": "NOVA", "maxPrice": "0.001"}
    first = post(body, **{"Idempotency-Key": "snipe-1"})
    call_command("launch_token", "NOVA", "--dex", "raydium", "--sol", "500", "--price", "2000", verbosity=0)

    again = post(body, **{"Idempotency-Key": "snipe-1"})

    assert first.status_code == again.status_code == 202, again.json()
    assert again.json()["orderId"] == first.json()["orderId"]
    assert Order.objects.count() == 1
    assert post(body).status_code == 400  # a new one is still refused


def test_a_client_over_its_rate_limit_gets_429_with_retry_after(settings):
    settings.RATE_LIMIT_PER_MINUTE = 3

    answers = [post({"amount": "1"}) for _ in range(4)]

    assert [answer.status_code for answer in answers] == [202, 202, 202, 429]
    assert int(answers[-1]["Retry-After"]) > 0
    assert "Too many" in answers[-1].json()["error"]
    assert Order.objects.count() == 3


def test_a_full_backlog_answers_503_with_retry_after_and_stores_nothing(settings, no_engine):
    settings.MAX_PENDING_ORDERS = 2
    post({"amount": "1"})
    post({"amount": "1"})

    refused = post({"amount": "1"})

    assert refused.status_code == 503
    assert refused["Retry-After"]
    assert refused.json()["error"]
    assert Order.objects.count() == 2


class TestApiKeys:
    @pytest.fixture(autouse=True)
    def keys_required(self, settings):
        settings.API_KEYS_REQUIRED = True

    def test_placing_an_order_without_a_key_is_refused(self):
        answer = post({"amount": "1"})

        assert answer.status_code in (401, 403)
        assert "API key" in answer.json()["error"]
        assert Order.objects.count() == 0

    def test_an_unknown_or_revoked_key_is_refused(self):
        key = ApiKey(name="bot")
        raw_key = key.issue()
        ApiKey.objects.filter(pk=key.pk).update(revoked=True)

        for token in ("oek_not-a-key", raw_key):
            answer = post({"amount": "1"}, Authorization=f"Bearer {token}")
            assert answer.status_code == 401
            assert answer["WWW-Authenticate"].startswith("Bearer")
        assert Order.objects.count() == 0

    def test_a_valid_key_places_orders_and_is_stored_only_hashed(self):
        key = ApiKey(name="market maker")
        raw_key = key.issue()

        answer = post({"amount": "1"}, Authorization=f"Bearer {raw_key}")

        assert answer.status_code == 202
        stored = ApiKey.objects.get(pk=key.pk)
        assert raw_key not in (stored.key_hash, stored.prefix) and stored.last_used_at is not None

    def test_a_logged_in_dashboard_user_needs_no_key(self, django_user_model):
        user = django_user_model.objects.create_user("trader", password="pw-for-tests-only")
        client = Client()
        client.force_login(user)

        assert post({"amount": "1"}, client=client).status_code == 202

    def test_reading_stays_open(self):
        assert Client().get("/api/orders").status_code == 200


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
NOT_A_POSITIVE_AMOUNT = (
    st.none()
    | st.booleans()
    | st.integers(max_value=0)
    | st.text(alphabet="abcxyz -", max_size=8)
    | st.lists(JSON, max_size=2)
    | st.dictionaries(st.text(max_size=5), JSON, max_size=2)
)
INVALID_ORDERS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=30)
    | st.lists(JSON, max_size=5)
    | st.dictionaries(st.sampled_from(["tokenIn", "tokenOut", "slippageBps", "type", "x"]), JSON, max_size=4)
    | st.fixed_dictionaries(
        {"amount": NOT_A_POSITIVE_AMOUNT}, optional={"tokenIn": JSON, "slippageBps": JSON}
    )
)


@hypothesis_settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=INVALID_ORDERS)
def test_random_invalid_json_gets_a_4xx_and_stores_nothing(body):
    answer = post(body)

    assert 400 <= answer.status_code < 500, (body, answer.content)
    assert answer.json()["error"]
    assert not Order.objects.exists()
