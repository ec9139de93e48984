"""Writes of the inference app."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from .models import InferenceUsage, UsageKind, UsageStatus


@transaction.atomic
def usage_record(
    *,
    project_id: Any | None,
    user_id: Any | None,
    model: str,
    kind: str,
    status: str = UsageStatus.OK,
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    duration_ms: int = 0,
    time_to_first_token_ms: int | None = None,
    finish_reason: str = "",
    error_code: str = "",
    request_id: str = "",
) -> InferenceUsage:
    """Record one served request. Ids, not rows: the worker has no reason to load them."""
    assert kind in UsageKind.values and status in UsageStatus.values
    return InferenceUsage.objects.create(
        project_id=project_id,
        user_id=user_id,
        request_id=request_id[:64],
        model=model[:120],
        kind=kind,
        status=status,
        prompt_tokens=max(0, prompt_tokens),
        completion_tokens=max(0, completion_tokens),
        duration_ms=max(0, duration_ms),
        time_to_first_token_ms=time_to_first_token_ms,
        finish_reason=finish_reason[:32],
        error_code=error_code[:64],
    )
