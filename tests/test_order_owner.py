"""An order placed with an API key, or by a logged-in user, is theirs to
cancel, and any operator's; one placed by nobody in particular is anyone's
who may place orders."""

import asyncio
import json
import re

import pytest
import websockets
from django.contrib.auth.models import Permission, User
from django.test import Client

from orders.models import ApiKey, Order, OrderStatus
from tests.engine import until_closed

pytestmark = pytest.mark.django_db(transaction=True)


def key(name: str) -> str:
    return ApiKey(name=name).issue()


def place(client: Client, **headers) -> str:
    answer = client.post(
        "/api/orders/execute",
        json.dumps({"type": "limit", "amount": "1", "limitPrice": "1000"}),
        content_type="application/json",
        headers=headers,
    )
    assert answer.status_code == 202, answer.json()
    return answer.json()["orderId"]


def cancel(client: Client, order_id: str, **headers):
    return client.post(f"/api/orders/{order_id}/cancel", headers=headers)


def logged_in(username: str, *, operator: bool = False) -> Client:
    user = User.objects.create_user(username, password="x", is_staff=operator)
    if operator:
        user.user_permissions.add(Permission.objects.get(codename="change_order"))
    client = Client()
    client.force_login(user)
    return client


def test_only_the_key_that_placed_an_order_or_an_operator_cancels_it(market, no_engine):
    alice, bob = key("alice"), key("bob")
    first = place(Client(), Authorization=f"Bearer {alice}")
    second = place(Client(), Authorization=f"Bearer {alice}")

    refused = cancel(Client(), first, Authorization=f"Bearer {bob}")
    assert refused.status_code == 403 and "Only who placed the order" in refused.json()["error"]
    assert cancel(Client(), first).status_code == 403  # no key at all
    assert Order.objects.get(pk=first).status == OrderStatus.WAITING

    assert cancel(Client(), first, Authorization=f"Bearer {alice}").status_code == 200
    assert cancel(logged_in("operator", operator=True), second).status_code == 200
    assert set(Order.objects.values_list("status", flat=True)) == {OrderStatus.CANCELLED}


def test_an_order_placed_by_nobody_in_particular_is_anyones_to_cancel(market, no_engine):
    order_id = place(Client())

    assert cancel(Client(), order_id, Authorization=f"Bearer {key('bob')}").status_code == 200


def test_on_the_dashboard_only_the_user_who_placed_an_order_cancels_it(market, no_engine):
    alice, bob = logged_in("alice"), logged_in("bob")
    form = {"type": "limit", "amount": "1", "limitPrice": "1000", "tokenIn": "SOL", "tokenOut": "USDC"}
    placed = alice.post("/", {**form, "slippage": "0.5", "slippageUnit": "pct"})
    order = Order.objects.get()
    assert placed.status_code == 302 and order.placed_by.username == "alice"

    refused = bob.post(f"/orders/{order.pk}/cancel")
    assert refused.status_code == 403 and b"Only who placed the order" in refused.content
    assert cancel(bob, str(order.pk)).status_code == 403

    assert alice.post(f"/orders/{order.pk}/cancel").status_code == 302
    assert Order.objects.get().status == OrderStatus.CANCELLED


def test_an_order_placed_over_a_socket_with_a_key_is_that_keys(engine):
    alice = key("alice")

    async def place_over_a_socket() -> str:
        async with asyncio.timeout(20):
            url = f"{engine.ws}/api/orders/execute"
            async with websockets.connect(
                url, additional_headers={"Authorization": f"Bearer {alice}"}
            ) as socket:
                await socket.send(json.dumps({"type": "limit", "amount": "1", "limitPrice": "1000"}))
                return json.loads(await socket.recv())["orderId"]

    order_id = asyncio.run(place_over_a_socket())

    assert Order.objects.get(pk=order_id).api_key.name == "alice"
    assert cancel(Client(), order_id, Authorization=f"Bearer {key('bob')}").status_code == 403
    assert cancel(Client(), order_id, Authorization=f"Bearer {alice}").status_code == 200


def test_a_socket_with_a_key_it_does_not_know_places_nothing_as_over_rest(engine):
    """Keys are not required here; a client that sends one means to own its
    orders, so a typo in it is refused rather than ignored."""

    (refusal,), close_code = until_closed(
        f"{engine.ws}/api/orders/execute", headers={"Authorization": "Bearer typo"}
    )

    assert (refusal["type"], refusal["error"], close_code) == (
        "error",
        "This API key is unknown or revoked.",
        4401,
    )
    rest = Client().post(
        "/api/orders/execute", {"amount": "1"}, "application/json", headers={"Authorization": "Bearer typo"}
    )
    assert rest.status_code == 401 and rest.json()["error"] == refusal["error"]
    assert not Order.objects.exists()


def test_an_idempotency_key_gives_back_its_order_to_the_client_that_placed_it_only(market, no_engine):
    alice, bob = key("alice"), key("bob")
    first = place(Client(), Authorization=f"Bearer {alice}", **{"Idempotency-Key": "k-1"})

    assert place(Client(), Authorization=f"Bearer {alice}", **{"Idempotency-Key": "k-1"}) == first
    body = json.dumps({"type": "limit", "amount": "1", "limitPrice": "1000"})
    for other in ({"Authorization": f"Bearer {bob}"}, {}):
        refused = Client().post(
            "/api/orders/execute",
            body,
            content_type="application/json",
            headers={**other, "Idempotency-Key": "k-1"},
        )
        assert refused.status_code == 409 and refused.json()["error"].endswith("used by another client")
    assert Order.objects.count() == 1


def test_a_trader_who_is_not_staff_logs_in_through_the_dashboards_link(settings):
    # The link led to the admin's login, which takes staff accounts only.
    settings.API_KEYS_REQUIRED = True
    User.objects.create_user("trader", password="a trader's password")
    client = Client()
    page = client.get("/").content.decode()
    link = re.search(r'<a href="([^"]+)">log in</a>', page)[1].replace("&amp;", "&")

    assert client.get(link).status_code == 200
    empty = client.post(link, {"username": "", "password": "", "next": "/"}).content.decode()
    assert 'id="error-username"' in empty and "This field is required." in empty
    answer = client.post(link, {"username": "trader", "password": "a trader's password", "next": "/"})

    assert (answer.status_code, answer["Location"]) == (302, "/")
    assert "Placing orders needs an account" not in client.get("/").content.decode()

    # On a shared machine: out again, from the page's own button.
    page = client.get("/").content.decode()
    logout = re.search(r'<form class="logout" method="post" action="([^"]+)">', page)[1]
    assert client.post(logout).status_code == 302
    assert "Placing orders needs an account" in client.get("/").content.decode()
