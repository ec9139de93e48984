"""/healthz against the real PostgreSQL, Redis and channel layer (and a real inference worker)."""

from __future__ import annotations

import re
import socket
import sys

import django
import pytest
from django.db import connection
from django.test import Client

from accounts.tests.tokens import forged_access_token


def secrets_of_this_deployment(settings) -> list[str]:
    """Strings that /healthz must never show: where the servers are, and what versions run."""
    redis_host = re.sub(r"^redis://", "", settings.CELERY_BROKER_URL).split("/")[0]
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0].split()[0]
    return [
        str(settings.DATABASES["default"]["HOST"]),
        settings.DATABASES["default"]["NAME"],
        redis_host,
        "redis://",
        "postgres",
        socket.gethostname(),
        pg_version,
        django.get_version(),
        sys.version.split()[0],
        "Traceback",
        "Error",
    ]


def assert_reveals_nothing(body: str, settings) -> None:
    for secret in secrets_of_this_deployment(settings):
        assert secret and secret not in body, f"/healthz reveals {secret!r}"


@pytest.fixture
def no_inference_worker(settings):
    """No inference worker serves the queue that /healthz asks about.

    A session-wide `inference_worker` may be up on the real queue already (test order), so
    /healthz is pointed at a queue that no worker of this run serves.
    """
    settings.INFERENCE_QUEUE = "inference-healthz-nobody"


def test_the_real_services_answer_but_no_inference_worker_is_503(db, settings, no_inference_worker):
    response = Client().get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["failing"] == ["inference"]
    assert body["checks"]["database"] == {"status": "ok"}
    assert body["checks"]["redis"] == {"status": "ok"}
    assert body["checks"]["channel_layer"] == {"status": "ok"}
    assert body["checks"]["inference"]["status"] == "fail"
    assert_reveals_nothing(response.content.decode(), settings)


def test_healthz_is_open_and_ignores_credentials(db, owner, no_inference_worker):
    """No login is needed, and a bad token changes nothing (probes send none)."""
    plain = Client().get("/healthz")
    forged = Client(HTTP_AUTHORIZATION=f"Bearer {forged_access_token(owner)}").get("/healthz")
    assert plain.status_code == forged.status_code == 503
    assert plain.json()["failing"] == forged.json()["failing"] == ["inference"]


def test_a_redis_that_does_not_answer_is_named_without_its_address(db, settings, no_inference_worker):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    settings.HEALTHCHECK_TIMEOUT = 1.0
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert set(response.json()["failing"]) == {"redis", "inference"}
    assert response.json()["checks"]["redis"] == {"status": "fail"}
    assert "127.0.0.1" not in response.content.decode()
    assert ":1/" not in response.content.decode()


def test_healthz_is_not_cached(db, no_inference_worker):
    response = Client().get("/healthz")
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_healthz_is_200_with_an_inference_worker_up(db, settings, inference_worker):
    response = Client().get("/healthz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert body["failing"] == []
    assert {name: check["status"] for name, check in body["checks"].items()} == {
        "database": "ok",
        "redis": "ok",
        "channel_layer": "ok",
        "inference": "ok",
    }
    assert body["checks"]["inference"]["workers"] >= 1
    assert body["checks"]["inference"]["models"], "the worker's loaded models are listed"
    assert_reveals_nothing(response.content.decode(), settings)


def test_only_runs_the_named_checks(db, settings, no_inference_worker):
    """The web container's health check: 200 without an inference worker."""
    response = Client().get("/healthz?only=database,redis,channel_layer")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and set(body["checks"]) == {"database", "redis", "channel_layer"}


@pytest.mark.parametrize("only", ["gpu", "database,nope", ","])
def test_only_with_an_unknown_check_is_400(db, only):
    response = Client().get(f"/healthz?only={only}")
    assert response.status_code == 400
    assert "only=" in response.json()["detail"]
