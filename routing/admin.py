"""Pools in the admin: read-only, because only swaps and drift move them."""

import json

from django.contrib import admin
from django.utils.html import format_html

from orders.api.auth import is_operator
from routing import market
from routing.models import Pool


@admin.register(Pool)
class PoolAdmin(admin.ModelAdmin):
    list_display = ["dex", "pair", "price", "depth_a", "depth_b", "fee", "active_id", "updated_at"]
    list_filter = ["dex", "token_a", "token_b"]
    search_fields = ["address", "token_a", "token_b"]
    readonly_fields = ["price", "depth_a", "depth_b", "fee", "bins_table"]
    exclude = ["bins"]

    # Operators launch tokens and watch the market: they see the pools,
    # whatever their model permissions say.
    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) or is_operator(request.user)

    def has_module_permission(self, request):
        return super().has_module_permission(request) or is_operator(request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="pair")
    def pair(self, pool):
        return pool.pair

    @admin.display(description="price (B per A)")
    def price(self, pool):
        return market.to_decimal(pool.price())

    @admin.display(description="depth A")
    def depth_a(self, pool):
        return f"{pool.base.from_base_units(pool.reserve_a):,.2f} {pool.token_a}"

    @admin.display(description="depth B")
    def depth_b(self, pool):
        return f"{pool.quote.from_base_units(pool.reserve_b):,.2f} {pool.token_b}"

    @admin.display(description="fee (bps)")
    def fee(self, pool):
        return f"{float(pool.state().fee_rate_bps(market.now())):.2f}"

    @admin.display(description="bins near the active one")
    def bins_table(self, pool):
        if not pool.bins:
            return "-"
        near = {
            bin_id: amounts
            for bin_id, amounts in pool.bins.items()
            if abs(int(bin_id) - (pool.active_id or 0)) <= 10
        }
        return format_html("<pre>{}</pre>", json.dumps(near, indent=1))
