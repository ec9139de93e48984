"""Usage per project (tokens and time on the inference worker) and the daily token quota.

The quota: `Project.daily_token_quota` (set by superusers in the admin); empty means the
platform's `DEFAULT_DAILY_TOKEN_QUOTA` (0 there: no limit). A project's tokens of the day are
the prompt and completion tokens of every InferenceUsage row (chat and embedding) since 00:00
UTC; the quota resets at the next 00:00 UTC.

Callers (the inference API and the agent runtime) check before each generation:

    from projects.usage import QuotaExceeded, quota_check
    quota_check(project=project)          # raises QuotaExceeded (HTTP 429) when used up

A REST view lets it propagate (drf-standardized-errors renders it as a 429 with code
`quota_exceeded` and a `Retry-After` header); a consumer or task sends
`{"type": "error", **exc.as_event()}` instead.

`GET /api/projects/{project_id}/usage/?days=N` (project admins) gives the daily and per-model
breakdown; the dashboard shows every member the last 7 days' tokens.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from platform_site import metrics

from .models import Project
from .tenancy import MANAGE, ProjectScopedMixin

MAX_USAGE_DAYS = 90


class QuotaExceeded(APIException):
    """The project's daily token quota is used up: 429 until `reset_at` (the next 00:00 UTC)."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "quota_exceeded"

    def __init__(self, *, reset_at: dt.datetime, quota: int, used: int) -> None:
        self.reset_at = reset_at
        self.quota = quota
        self.used = used
        # `wait` makes the exception handler send Retry-After (seconds), as for throttling.
        self.wait = max(1, int((reset_at - timezone.now()).total_seconds()))
        super().__init__(
            detail=(
                f"This project has used its daily quota of {quota} tokens. "
                f"It resets at {reset_at.isoformat()}."
            ),
            code=self.default_code,
        )

    def as_event(self) -> dict[str, Any]:
        """The WebSocket `error` event's fields (without `type` and `seq`)."""
        return {"code": self.default_code, "detail": str(self.detail), "reset_at": self.reset_at.isoformat()}


def day_start(now: dt.datetime | None = None) -> dt.datetime:
    now = now or timezone.now()
    return now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def quota_reset_at(now: dt.datetime | None = None) -> dt.datetime:
    return day_start(now) + dt.timedelta(days=1)


def quota_for(*, project: Project) -> int | None:
    """The project's daily token quota, or None for no limit."""
    quota = project.daily_token_quota
    if quota is None:
        quota = settings.DEFAULT_DAILY_TOKEN_QUOTA or None
    return quota


def tokens_used_today(*, project: Project, now: dt.datetime | None = None) -> int:
    from inference.models import InferenceUsage

    total = InferenceUsage.objects.filter(project=project, created_at__gte=day_start(now)).aggregate(
        total=Coalesce(Sum(F("prompt_tokens") + F("completion_tokens")), 0)
    )["total"]
    return int(total)


def quota_check(*, project: Project) -> None:
    """Raise QuotaExceeded when the project has no tokens left today. One query, none without a quota."""
    quota = quota_for(project=project)
    if quota is None:
        return
    used = tokens_used_today(project=project)
    if used >= quota:
        metrics.QUOTA_REJECTIONS.inc()
        raise QuotaExceeded(reset_at=quota_reset_at(), quota=quota, used=used)


@dataclass(frozen=True)
class QuotaStatus:
    daily_token_quota: int | None
    used_today: int
    remaining_today: int | None
    reset_at: dt.datetime


def quota_status(*, project: Project, used_today: int) -> QuotaStatus:
    quota = quota_for(project=project)
    remaining = None if quota is None else max(quota - used_today, 0)
    return QuotaStatus(quota, used_today, remaining, quota_reset_at())


@transaction.atomic
def project_quota_set(*, project: Project, daily_token_quota: int | None) -> Project:
    """Superusers only (the admin): None falls back to DEFAULT_DAILY_TOKEN_QUOTA."""
    project.daily_token_quota = daily_token_quota
    project.save(update_fields=["daily_token_quota", "updated_at"])
    return project


# --- reads ----------------------------------------------------------------------------------


def usage_by_day(*, project: Project, days: int, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """One row per UTC day of the last `days` days (today included), zeros for quiet days. One query."""
    from inference.models import InferenceUsage

    first = day_start(now) - dt.timedelta(days=days - 1)
    rows = (
        InferenceUsage.objects.filter(project=project, created_at__gte=first)
        .annotate(day=TruncDate("created_at", tzinfo=dt.UTC))
        .values("day")
        .annotate(
            requests=Count("id"),
            prompt_tokens=Coalesce(Sum("prompt_tokens"), 0),
            completion_tokens=Coalesce(Sum("completion_tokens"), 0),
            duration_ms=Coalesce(Sum("duration_ms"), 0),
        )
        .order_by("day")
    )
    by_day: dict[Any, dict[str, Any]] = {row["day"]: dict(row) for row in rows}
    result = []
    for offset in range(days):
        day = (first + dt.timedelta(days=offset)).date()
        row: dict[str, Any] = by_day.get(day, {})
        prompt, completion = row.get("prompt_tokens", 0), row.get("completion_tokens", 0)
        result.append(
            {
                "date": day,
                "requests": row.get("requests", 0),
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
                "duration_ms": row.get("duration_ms", 0),
            }
        )
    return result


def usage_by_model(*, project: Project, days: int, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    from inference.models import InferenceUsage

    first = day_start(now) - dt.timedelta(days=days - 1)
    rows = (
        InferenceUsage.objects.filter(project=project, created_at__gte=first)
        .values("model", "kind")
        .annotate(
            requests=Count("id"),
            prompt_tokens=Coalesce(Sum("prompt_tokens"), 0),
            completion_tokens=Coalesce(Sum("completion_tokens"), 0),
            duration_ms=Coalesce(Sum("duration_ms"), 0),
        )
        .order_by("model", "kind")
    )
    return [{**row, "total_tokens": row["prompt_tokens"] + row["completion_tokens"]} for row in rows]


# --- HTTP -----------------------------------------------------------------------------------


class UsageDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    requests = serializers.IntegerField()
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()
    duration_ms = serializers.IntegerField(help_text="Time spent on the inference worker.")


class UsageByModelSerializer(serializers.Serializer):
    model = serializers.CharField()
    kind = serializers.CharField(help_text="chat or embedding")
    requests = serializers.IntegerField()
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()
    duration_ms = serializers.IntegerField()


class TokenQuotaSerializer(serializers.Serializer):
    daily_token_quota = serializers.IntegerField(
        allow_null=True, help_text="Tokens per UTC day (prompt + completion); null: no limit."
    )
    used_today = serializers.IntegerField()
    remaining_today = serializers.IntegerField(allow_null=True)
    reset_at = serializers.DateTimeField(help_text="When today's count starts again (00:00 UTC).")


class ProjectUsageSerializer(serializers.Serializer):
    days = UsageDaySerializer(many=True)
    by_model = UsageByModelSerializer(many=True)
    quota = TokenQuotaSerializer()


class UsageQuerySerializer(serializers.Serializer):
    days = serializers.IntegerField(min_value=1, max_value=MAX_USAGE_DAYS, default=7)


class ProjectUsageView(ProjectScopedMixin, APIView):
    """Tokens and worker time per day and per model, and the quota: for project admins."""

    project_permissions = {"GET": MANAGE}

    @extend_schema(
        tags=["projects"],
        summary="The project's inference usage per day and per model, and its daily token quota (admins)",
        parameters=[
            OpenApiParameter("days", int, description=f"How many days back, 1–{MAX_USAGE_DAYS} (default 7).")
        ],
        responses={200: ProjectUsageSerializer},
    )
    def get(self, request: Request, project_id: Any) -> Response:
        query = UsageQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        days = query.validated_data["days"]
        daily = usage_by_day(project=self.project, days=days)
        body = {
            "days": daily,
            "by_model": usage_by_model(project=self.project, days=days),
            "quota": quota_status(project=self.project, used_today=daily[-1]["total_tokens"]).__dict__,
        }
        return Response(ProjectUsageSerializer(body).data)
