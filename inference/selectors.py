"""Reads of the inference app."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Count, QuerySet, Sum

from .models import InferenceUsage
from .registry import ModelSpec, all_models


def model_list() -> list[ModelSpec]:
    """The models this deployment serves, chat models first."""
    return sorted(all_models().values(), key=lambda spec: (spec.kind != "chat", spec.name))


def usage_list(*, project: Any) -> QuerySet[InferenceUsage]:
    return InferenceUsage.objects.filter(project=project).order_by("-created_at")


def usage_summary(*, project: Any, since: datetime | None = None) -> dict[str, int]:
    """Totals for a project (for the dashboard): requests and tokens, since `since` if given."""
    qs = InferenceUsage.objects.filter(project=project)
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    totals = qs.aggregate(
        requests=Count("id"), prompt_tokens=Sum("prompt_tokens"), completion_tokens=Sum("completion_tokens")
    )
    return {key: int(value or 0) for key, value in totals.items()}
