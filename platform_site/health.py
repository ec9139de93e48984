"""`/healthz`: 200 when every part answers, 503 naming the failing parts. Open to probes.

`?only=database,redis,channel_layer` runs just those checks: the web container's own health,
which must not depend on an inference worker that is still loading its models.

It reveals only each part's state (and which models the inference worker has loaded),
never hosts, versions or errors' details.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)


def check_database() -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"status": "ok"}


def check_redis() -> dict[str, Any]:
    client = redis.Redis.from_url(
        settings.CELERY_BROKER_URL, socket_timeout=settings.HEALTHCHECK_TIMEOUT,
        socket_connect_timeout=settings.HEALTHCHECK_TIMEOUT,
    )  # fmt: skip
    try:
        client.ping()
    finally:
        client.close()
    return {"status": "ok"}


async def _channel_roundtrip() -> None:
    layer = get_channel_layer()
    assert layer is not None
    channel = await layer.new_channel("healthz.")
    await layer.send(channel, {"type": "healthz.ping"})
    message = await asyncio.wait_for(layer.receive(channel), settings.HEALTHCHECK_TIMEOUT)
    if message.get("type") != "healthz.ping":
        raise RuntimeError("unexpected message")


def check_channel_layer() -> dict[str, Any]:
    async_to_sync(_channel_roundtrip)()
    return {"status": "ok"}


def check_inference() -> dict[str, Any]:
    from inference.client import worker_status

    status = worker_status()
    if not status:
        return {"status": "fail", "detail": "no inference worker"}
    return {"status": "ok", **status}


CHECKS: dict[str, Callable[[], dict[str, Any]]] = {
    "database": check_database,
    "redis": check_redis,
    "channel_layer": check_channel_layer,
    "inference": check_inference,
}


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    names = list(CHECKS)
    if "only" in request.GET:
        names = [name.strip() for name in request.GET["only"].split(",") if name.strip()]
        unknown = sorted(set(names) - set(CHECKS))
        if unknown or not names:
            return JsonResponse(
                {"detail": f"only= takes names among {', '.join(CHECKS)}; unknown: {', '.join(unknown)}"},
                status=400,
            )
    results: dict[str, Any] = {}
    for name in names:
        check = CHECKS[name]
        try:
            results[name] = check()
        except Exception:
            logger.warning("healthz: %s failed", name, exc_info=True)
            results[name] = {"status": "fail"}
    failing = [name for name, result in results.items() if result.get("status") != "ok"]
    body = {"status": "fail" if failing else "ok", "failing": failing, "checks": results}
    return JsonResponse(body, status=503 if failing else 200)
