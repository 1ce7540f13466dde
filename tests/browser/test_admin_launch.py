"""The admin's "Launch a token" page: staff only, linked from the index and
the Pools list, and it opens the token's first pool."""

import re

from django.contrib.auth.models import User
from django.test import Client
from playwright.sync_api import expect

from routing.models import Pool


def test_the_index_links_the_launch_page_and_a_launch_opens_a_pool(engine, admin_page):
    page = admin_page
    page.click("#engine-links >> text=Launch a token")
    expect(page).to_have_url(re.compile(r"/admin/orders/order/launch-token/$"))
    expect(page.locator("h1")).to_have_text("Launch a token")
    expect(page.locator("#id_token option")).to_have_text(["NOVA", "LUMEN"])

    page.select_option("#id_token", "LUMEN")
    page.select_option("#id_dex", "meteora")
    page.fill("#id_sol_liquidity", "400")
    page.fill("#id_price", "1500")
    page.click("input[name=launch]")

    expect(page).to_have_url(re.compile(r"/admin/routing/pool/$"))
    expect(page.locator(".messagelist .success")).to_contain_text(
        "LUMEN launched on meteora: 400 SOL at 1,500 LUMEN per SOL"
    )
    expect(page.locator("#result_list")).to_contain_text("SOL/LUMEN")
    assert Pool.objects.filter(dex="meteora", token_a="SOL", token_b="LUMEN").exists()

    page.click("#launch-token-link")
    expect(page.locator("#id_token option")).to_have_text(["NOVA"])


def test_bad_input_is_refused_next_to_its_field(engine, admin_page):
    page = admin_page
    page.goto(f"{engine.url}/admin/orders/order/launch-token/")
    page.fill("#id_price", "0")
    page.fill("#id_sol_liquidity", "0.5")
    page.click("input[name=launch]")

    expect(page.locator(".field-price .errorlist")).to_contain_text("greater than or equal to 0.01")
    expect(page.locator(".field-sol_liquidity .errorlist")).to_contain_text("greater than or equal to 1")
    assert not Pool.objects.filter(token_b__in=["NOVA", "LUMEN"]).exists()


def test_only_staff_may_launch(market):
    url = "/admin/orders/order/launch-token/"
    anonymous = Client().post(url, {"token": "NOVA", "dex": "raydium", "sol_liquidity": "10", "price": "10"})
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]

    trader = Client()
    trader.force_login(User.objects.create_user("trader", password="x"))
    refused = trader.post(url, {"token": "NOVA", "dex": "raydium", "sol_liquidity": "10", "price": "10"})
    assert refused.status_code == 302 and "/admin/login/" in refused["Location"]
    assert not Pool.objects.filter(token_b="NOVA").exists()
