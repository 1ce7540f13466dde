from decimal import Decimal, InvalidOperation

from django.core.management.base import BaseCommand, CommandError

from routing.errors import InvalidPair
from routing.launch import launch_token, launchable_tokens
from routing.models import Dex


def _positive_decimal(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise CommandError(f"{text!r} is not a number") from None
    if not value.is_finite() or value <= 0:
        raise CommandError(f"{text!r} must be a positive number")
    return value


class Command(BaseCommand):
    help = "Launch a listed token: open its first SOL pool on Raydium or Meteora."

    def add_arguments(self, parser):
        parser.add_argument("symbol", nargs="?", help="the token to launch; omit to list the launchable ones")
        parser.add_argument("--dex", choices=Dex.values, default=Dex.RAYDIUM)
        parser.add_argument("--sol", type=_positive_decimal, default=Decimal(1000), help="SOL in the pool")
        parser.add_argument("--price", type=_positive_decimal, default=Decimal(1000), help="tokens per SOL")

    def handle(self, *args, symbol=None, dex, sol, price, **options):
        if not symbol:
            self.stdout.write("Launchable tokens: " + (", ".join(launchable_tokens()) or "none"))
            return
        try:
            pool = launch_token(symbol=symbol.upper(), dex=dex, sol_liquidity=sol, price=price)
        except InvalidPair as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"{pool.token_b} launched on {pool.dex}: {sol} SOL at {price} {pool.token_b}/SOL ({pool.address})"
        )
