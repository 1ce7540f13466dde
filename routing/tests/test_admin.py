"""Operators can inspect pools in the admin but not edit them."""

from routing.models import Pool


def test_the_pool_list_shows_pair_price_and_depth(admin_client, market):
    response = admin_client.get("/admin/routing/pool/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "SOL/USDC" in page and "USDC/USDT" in page
    assert "60,000.00 SOL" in page


def test_a_dlmm_pool_page_shows_its_bins_and_cannot_be_edited(admin_client, market):
    pool = Pool.objects.get(dex="meteora", token_a="SOL", token_b="USDC")
    response = admin_client.get(f"/admin/routing/pool/{pool.id}/change/")
    assert response.status_code == 200
    page = response.content.decode()
    assert str(pool.active_id) in page
    assert 'name="_save"' not in page
    assert admin_client.get("/admin/routing/pool/add/").status_code == 403
