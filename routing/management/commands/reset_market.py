from django.core.management.base import BaseCommand

from routing.seed import reset_market


class Command(BaseCommand):
    help = "Put every pool of the mock market back in its seeded state."

    def handle(self, *args, **options):
        count = reset_market()
        self.stdout.write(f"reset_market: {count} pool(s) reset to their seeded state")
