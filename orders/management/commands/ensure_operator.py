"""Creates the operator account from ADMIN_USER and ADMIN_PASSWORD, or says
how to make one. `make run` calls it before starting the engine."""

import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create or update the admin account named by ADMIN_USER / ADMIN_PASSWORD."

    def handle(self, *args, **options):
        username, password = os.environ.get("ADMIN_USER"), os.environ.get("ADMIN_PASSWORD")
        users = get_user_model()
        if not (username and password):
            if not users.objects.filter(is_superuser=True).exists():
                self.stdout.write(
                    "No operator account yet. Create one for /admin/ with\n"
                    "  .venv/bin/python manage.py createsuperuser\n"
                    "or set ADMIN_USER and ADMIN_PASSWORD before `make run`."
                )
            return
        user, created = users.objects.get_or_create(username=username)
        if (
            not created
            and user.is_active
            and user.is_staff
            and user.is_superuser
            and user.check_password(password)
        ):
            # Hashing it again would change the session's auth hash and log
            # the operator out of the admin at every start.
            self.stdout.write(f"Operator account {username!r} is as set.")
            return
        user.is_active = user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        self.stdout.write(f"Operator account {username!r} {'created' if created else 'updated'}.")
