"""Create or update the superuser named by DJANGO_SUPERUSER_EMAIL / DJANGO_SUPERUSER_PASSWORD.

Idempotent, so `make run` calls it every time. Without both variables it prints one line on
how to create a superuser by hand, and still exits 0.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import User


class Command(BaseCommand):
    help = "Create or update a superuser from DJANGO_SUPERUSER_EMAIL and DJANGO_SUPERUSER_PASSWORD."

    def handle(self, *args: Any, **options: Any) -> None:
        email = os.environ.get("DJANGO_SUPERUSER_EMAIL", "").strip()
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD", "")
        if not email or not password:
            self.stdout.write(
                "No superuser configured: set DJANGO_SUPERUSER_EMAIL and DJANGO_SUPERUSER_PASSWORD, "
                "or run `python manage.py createsuperuser`."
            )
            return
        email = User.objects.normalize_email(email).lower()
        with transaction.atomic():
            user = User.objects.select_for_update().filter(email__iexact=email).first()
            if user is None:
                User.objects.create_superuser(email=email, password=password)
                self.stdout.write(f"Superuser {email} created.")
                return
            changed = [
                field for field in ("is_staff", "is_superuser", "is_active") if not getattr(user, field)
            ]
            for field in changed:
                setattr(user, field, True)
            if not user.check_password(password):
                user.set_password(password)
                changed.append("password")
            if changed:
                user.save(update_fields=changed)
                self.stdout.write(f"Superuser {email} updated ({', '.join(changed)}).")
            else:
                self.stdout.write(f"Superuser {email} is up to date.")
