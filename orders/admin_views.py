"""Admin pages that are not a model's: launching a listed token.

Tokens are a code registry (routing/tokens.py), not rows, so the launch is a
small form of its own rather than a model admin action. It is linked from the
admin index and from the Pools list, and served under the orders admin's URLs
(see OrderAdmin.get_urls) so that the admin site's login and staff check
guard it.
"""

import functools
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db.models import Count
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse

from orders.api.auth import is_operator
from orders.models import Order, OrderStatus, OrderType
from routing.errors import InvalidPair
from routing.launch import QUOTE_TOKEN, launch_token, launchable_tokens
from routing.models import Dex


class LaunchTokenForm(forms.Form):
    token = forms.ChoiceField(help_text="Listed tokens that no pool trades yet.")
    dex = forms.ChoiceField(label="DEX", choices=Dex.choices, initial=Dex.RAYDIUM)
    # Bounds keep the seeded pool meaningful: a pool of dust, or a price so
    # far off that one side rounds to zero base units, trades nothing.
    sol_liquidity = forms.DecimalField(
        label="SOL liquidity",
        initial=Decimal(1000),
        max_digits=20,
        decimal_places=9,
        validators=[MinValueValidator(Decimal(1)), MaxValueValidator(Decimal(10_000_000))],
        help_text="SOL in the pool, from 1 to 10,000,000; the matching tokens are added at the price.",
    )
    price = forms.DecimalField(
        label="Price",
        initial=Decimal(1000),
        max_digits=24,
        decimal_places=6,
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal(10**12))],
        help_text="Tokens per SOL at launch, from 0.01 to 10¹².",
    )

    def __init__(self, *args, tokens: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["token"].choices = tokens


def _token_choices() -> list[tuple[str, str]]:
    """Launchable tokens, each with how many sniper orders wait for it."""
    waiting = dict(
        Order.objects.filter(status=OrderStatus.WAITING, type=OrderType.SNIPER)
        .values_list("token_out")
        .annotate(count=Count("id"))
    )
    choices = []
    for symbol in launchable_tokens():
        count = waiting.get(symbol, 0)
        label = f"{symbol} ({count} sniper order{'s' if count != 1 else ''} waiting)" if count else symbol
        choices.append((symbol, label))
    return choices


def operators_only(view):
    """A view of the admin's that acts on the engine: 403 for a staff user
    who may only look (orders.api.auth.is_operator)."""

    @functools.wraps(view)
    def checked(request, *args, **kwargs):
        if not is_operator(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return checked


def launch_token_view(request):
    """Open a listed token's first SOL pool: what sniper orders wait for."""
    tokens = _token_choices()
    form = LaunchTokenForm(request.POST or None, tokens=tokens)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            pool = launch_token(
                symbol=data["token"],
                dex=data["dex"],
                sol_liquidity=data["sol_liquidity"],
                price=data["price"],
            )
        except InvalidPair as refused:
            # Two operators, one token: the other launch may have won.
            messages.error(request, f"{data['token']} was not launched: {refused}.")
        else:
            messages.success(
                request,
                f"{pool.token_b} launched on {pool.dex}: {data['sol_liquidity']:,} {QUOTE_TOKEN} at "
                f"{data['price']:,} {pool.token_b} per {QUOTE_TOKEN} (pool {pool.address}). "
                "Sniper orders waiting for it are triggered now.",
            )
            return redirect(reverse("admin:routing_pool_changelist"))
    context = {
        **admin.site.each_context(request),
        "title": "Launch a token",
        "form": form,
        "tokens": tokens,
        "quote_token": QUOTE_TOKEN,
    }
    return TemplateResponse(request, "admin/launch_token.html", context)
