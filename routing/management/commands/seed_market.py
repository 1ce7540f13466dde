from django.core.management.base import BaseCommand

from routing.seed import seed_market


class Command(BaseCommand):
    help = "Create the mock market's seeded pools that do not exist yet (safe to run on every start)."

    def handle(self, *args, **options):
        created = seed_market()
        self.stdout.write(
            f"seed_market: {created} pool(s) created" if created else "seed_market: market already seeded"
        )
