"""Who may act in the admin: an operator (a staff user who may change
orders; every superuser) cancels, retries, launches tokens and works rq's
queues. A staff user who may only view orders sees them and does none of it,
in the admin or over REST."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

from orders import services
from orders.models import ApiKey, Order, OrderStatus
from routing.models import Pool

pytestmark = pytest.mark.django_db


def staff(username: str, *permissions: str) -> Client:
    user = User.objects.create_user(username, password="x", is_staff=True)
    for codename in permissions:
        user.user_permissions.add(Permission.objects.get(codename=codename, content_type__app_label="orders"))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def pending(market, no_engine, monkeypatch):
    monkeypatch.setattr(services, "request_admission", lambda: None)
    order, _ = services.order_place(amount=Decimal("1"), token_in="SOL", token_out="USDC")
    return order


def actions(client: Client) -> set[str]:
    page = client.get("/admin/orders/order/")
    assert page.status_code == 200
    form = page.context["action_form"]  # None: no action this user may take
    return {name for name, _ in form.fields["action"].choices if name} if form else set()


def cancel_in_the_admin(client: Client, order: Order):
    form = {"action": "cancel_open", "_selected_action": [str(order.pk)]}
    return client.post("/admin/orders/order/", form)


def test_a_staff_user_who_may_only_view_orders_cannot_act_on_them(pending):
    viewer = staff("viewer", "view_order")

    assert actions(viewer) == set()
    cancel_in_the_admin(viewer, pending)

    assert Order.objects.get(pk=pending.pk).status == OrderStatus.PENDING


def test_a_viewer_cannot_cancel_an_order_someone_placed(market, no_engine, monkeypatch):
    monkeypatch.setattr(services, "request_admission", lambda: None)
    owner = User.objects.create_user("owner", password="x")
    order, _ = services.order_place(amount=Decimal("1"), token_in="SOL", token_out="USDC", placed_by=owner)
    viewer = staff("viewer", "view_order")

    cancel_in_the_admin(viewer, order)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING, "cancelled through the admin"
    assert viewer.post(f"/api/orders/{order.pk}/cancel").status_code == 403
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING

    operator = staff("operator", "view_order", "change_order")
    assert actions(operator) >= {"cancel_open", "retry_failed"}
    cancel_in_the_admin(operator, order)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.CANCELLED


def test_only_an_operator_launches_a_token_or_opens_rqs_pages(market):
    viewer, operator = staff("viewer", "view_order"), staff("operator", "change_order")
    launch = {"token": "NOVA", "dex": "raydium", "sol_liquidity": "10", "price": "10"}

    assert viewer.post("/admin/orders/order/launch-token/", launch).status_code == 403
    assert viewer.get("/admin/rq/").status_code == 403
    # django-rq's own copy of its pages in the admin is not served at all.
    assert viewer.post("/admin/django_rq/dashboard/queues/0/empty/").status_code == 404
    index = viewer.get("/admin/").content.decode()
    assert "Launch a token" not in index and "Queue statistics" not in index
    assert not Pool.objects.filter(token_b="NOVA").exists()

    assert operator.get("/admin/rq/").status_code == 200
    launched = operator.post("/admin/orders/order/launch-token/", launch, follow=True)
    assert launched.redirect_chain[-1][0] == "/admin/routing/pool/"
    assert launched.status_code == 200 and "NOVA" in launched.content.decode()
    assert Pool.objects.filter(token_b="NOVA").exists()


def test_api_keys_are_revoked_not_deleted(db):
    operator = Client()
    operator.force_login(User.objects.create_superuser("operator", password="x"))
    key = ApiKey(name="a desk")
    key.issue()

    form = operator.get("/admin/orders/apikey/").context["action_form"]  # None: no action at all
    assert form is None or "delete_selected" not in dict(form.fields["action"].choices)
    assert operator.get(f"/admin/orders/apikey/{key.pk}/delete/").status_code == 403
    assert ApiKey.objects.filter(pk=key.pk).exists()


def test_a_new_api_key_is_shown_once_and_never_put_in_a_cookie(db):
    operator = Client()
    operator.force_login(User.objects.create_superuser("operator", password="x"))

    added = operator.post("/admin/orders/apikey/add/", {"name": "a desk"})
    shown = operator.get(added["Location"]).content.decode()

    (key,) = ApiKey.objects.all()
    raw_key = shown.split("The API key for a desk is ")[1].split(".")[0]
    assert raw_key.startswith(key.prefix)
    assert ApiKey.find(raw_key) == key
    for response in (added, operator.get("/admin/")):
        assert all(raw_key not in cookie.value for cookie in response.cookies.values())
        assert "messages" not in response.cookies
