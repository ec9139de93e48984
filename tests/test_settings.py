"""Production settings: a missing secret stops start-up with one line naming it."""

from __future__ import annotations

import os
import subprocess
import sys

from django.conf import settings

SETUP = "import django; django.setup(); print('started')"


def start_production(**env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    environment.update({"DJANGO_SETTINGS_MODULE": "platform_site.settings.production", **env})
    return subprocess.run(
        [sys.executable, "-c", SETUP], cwd=settings.BASE_DIR, env=environment,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_production_without_a_secret_key_stops_with_one_line_naming_it():
    # An empty value, so that a DJANGO_SECRET_KEY in a local .env cannot fill it in.
    result = start_production(DJANGO_SECRET_KEY="")
    assert result.returncode == 2
    assert "started" not in result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "DJANGO_SECRET_KEY" in lines[0]
    assert "Traceback" not in result.stderr


def test_production_refuses_the_placeholder_secret_of_env_example():
    result = start_production(DJANGO_SECRET_KEY="change-me")
    assert result.returncode == 2
    assert "started" not in result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "DJANGO_SECRET_KEY" in lines[0] and "placeholder" in lines[0]


def test_production_refuses_the_placeholder_metrics_token():
    result = start_production(
        DJANGO_SECRET_KEY="a-production-secret-that-is-long-enough-0123456789", METRICS_TOKEN="change-me"
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "METRICS_TOKEN" in lines[0], result.stderr


def test_production_starts_with_a_secret_key():
    result = start_production(DJANGO_SECRET_KEY="a-production-secret-that-is-long-enough-0123456789")
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


def test_production_runs_without_debug():
    code = "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    environment.update(
        DJANGO_SETTINGS_MODULE="platform_site.settings.production",
        DJANGO_SECRET_KEY="a-production-secret-that-is-long-enough-0123456789",
        DJANGO_DEBUG="true",  # production ignores it
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=settings.BASE_DIR, env=environment,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.stdout.strip() == "False", result.stderr
