"""`python manage.py inference_status [--this-host]`: the inference workers' heartbeat, as JSON.

Exits 1 when no inference worker is alive (with --this-host: none on this machine), so that
it serves as the GPU image's HEALTHCHECK.
"""

from __future__ import annotations

import json
import socket

from django.core.management.base import BaseCommand, CommandError

from inference.client import worker_heartbeats


class Command(BaseCommand):
    help = "Show the inference workers that are alive and the models they serve."
    requires_system_checks: list[str] = []  # no database needed (image builds, health checks)

    def add_arguments(self, parser) -> None:
        parser.add_argument("--this-host", action="store_true", help="only workers on this host")

    def handle(self, *args, **options) -> None:
        beats = worker_heartbeats()
        if options["this_host"]:
            host = socket.gethostname()
            beats = [b for b in beats if str(b.get("hostname", "")).split("@")[-1] == host]
        if not beats:
            raise CommandError("no inference worker is alive")
        self.stdout.write(json.dumps(beats, indent=2))
