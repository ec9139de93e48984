"""`GET /api/projects/{project_id}/dashboard/`: the project page in one call (API.md's BFF route).

Agents with their status and last activity, recent conversations, memory counts, the next
schedule runs and the token usage of the last 7 days, through the tenant gate. The number of
queries does not depend on the number of rows (see `dashboard_get` and tests/test_dashboard.py).
Project admins (and superusers) also get the per-model usage and the worker time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Exists, F, Max, OuterRef, Q, QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .models import Project, Role
from .tenancy import ProjectScopedMixin
from .usage import (
    TokenQuotaSerializer,
    UsageByModelSerializer,
    UsageDaySerializer,
    quota_status,
    usage_by_day,
    usage_by_model,
)

DASHBOARD_AGENTS = 50
DASHBOARD_CONVERSATIONS = 10
DASHBOARD_SCHEDULES = 5
DASHBOARD_USAGE_DAYS = 7


# --- selectors -----------------------------------------------------------------------------


def dashboard_agents(*, project: Project) -> QuerySet[Any]:
    """Agents with their last activity (newest message in their conversations) and whether one is busy."""
    from agents.models import Agent, Message

    busy = Message.objects.filter(
        conversation__agent=OuterRef("pk"), status__in=[Message.Status.QUEUED, Message.Status.RUNNING]
    )
    return (
        Agent.objects.filter(project=project)
        .annotate(last_activity_at=Max("conversations__messages__created_at"), is_busy=Exists(busy))
        .order_by(F_desc_nulls_last("last_activity_at"), "name")[:DASHBOARD_AGENTS]
    )


def F_desc_nulls_last(name: str) -> Any:  # noqa: N802 - reads like F()
    return F(name).desc(nulls_last=True)


def dashboard_conversations(*, project: Project) -> QuerySet[Any]:
    from agents.models import Conversation

    return (
        Conversation.objects.filter(project=project)
        .select_related("agent")
        .annotate(last_message_at=Max("messages__created_at"), message_count=Count("messages"))
        .order_by(F_desc_nulls_last("last_message_at"), "-created_at")[:DASHBOARD_CONVERSATIONS]
    )


def dashboard_memory_counts(*, project: Project) -> dict[str, int]:
    """Documents by status (one aggregate) and memory entries (one count)."""
    from memory.models import Document, DocumentStatus, MemoryEntry

    counts: dict[str, int] = Document.objects.filter(project=project).aggregate(
        document_count=Count("id"),
        documents_ready=Count("id", filter=Q(status=DocumentStatus.READY)),
        documents_processing=Count(
            "id", filter=Q(status__in=[DocumentStatus.PENDING, DocumentStatus.PROCESSING])
        ),
        documents_failed=Count("id", filter=Q(status=DocumentStatus.FAILED)),
    )
    counts["entry_count"] = MemoryEntry.objects.filter(project=project).count()
    return counts


def dashboard_next_schedules(*, project: Project) -> QuerySet[Any]:
    from scheduling.models import Schedule

    return (
        Schedule.objects.filter(project=project, enabled=True, next_run_at__isnull=False)
        .select_related("agent")
        .order_by("next_run_at")[:DASHBOARD_SCHEDULES]
    )


@dataclass
class Dashboard:
    project: dict[str, Any]
    agents: list[Any]
    recent_conversations: list[Any]
    memory: dict[str, int]
    next_schedules: list[Any]
    usage: dict[str, Any]


def dashboard_get(*, project: Project, role: str) -> Dashboard:
    """Six queries whatever the size of the project: usage per day, agents, conversations,
    documents, memory entries, schedules; and one more for admins: usage per model."""
    daily = usage_by_day(project=project, days=DASHBOARD_USAGE_DAYS)
    usage: dict[str, Any] = {
        "days": daily,
        "total_tokens": sum(day["total_tokens"] for day in daily),
        "quota": quota_status(project=project, used_today=daily[-1]["total_tokens"]).__dict__,
    }
    if role == Role.ADMIN:
        usage["by_model"] = usage_by_model(project=project, days=DASHBOARD_USAGE_DAYS)
    return Dashboard(
        project={"id": project.id, "name": project.name, "description": project.description, "role": role},
        agents=list(dashboard_agents(project=project)),
        recent_conversations=list(dashboard_conversations(project=project)),
        memory=dashboard_memory_counts(project=project),
        next_schedules=list(dashboard_next_schedules(project=project)),
        usage=usage,
    )


# --- serializers ---------------------------------------------------------------------------


class DashboardProjectSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    description = serializers.CharField()
    role = serializers.ChoiceField(
        choices=Role.choices, help_text="The caller's role (admin for a superuser)."
    )


class DashboardAgentSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    status = serializers.CharField(help_text="active or paused")
    model_name = serializers.CharField()
    is_busy = serializers.BooleanField(
        help_text="A message of one of its conversations is queued or running."
    )
    last_activity_at = serializers.DateTimeField(allow_null=True, help_text="Its newest message, if any.")


class DashboardAgentRefSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class DashboardConversationSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    title = serializers.CharField()
    agent = DashboardAgentRefSerializer()
    message_count = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    last_message_at = serializers.DateTimeField(allow_null=True)


class DashboardMemorySerializer(serializers.Serializer):
    entry_count = serializers.IntegerField()
    document_count = serializers.IntegerField()
    documents_ready = serializers.IntegerField()
    documents_processing = serializers.IntegerField(help_text="Pending or being ingested.")
    documents_failed = serializers.IntegerField()


class DashboardScheduleSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    kind = serializers.CharField()
    agent = DashboardAgentRefSerializer()
    next_run_at = serializers.DateTimeField()
    last_run_at = serializers.DateTimeField(allow_null=True)


class DashboardUsageSerializer(serializers.Serializer):
    days = UsageDaySerializer(many=True, help_text="The last 7 UTC days, today last.")
    total_tokens = serializers.IntegerField()
    quota = TokenQuotaSerializer()
    by_model = UsageByModelSerializer(many=True, required=False, help_text="Project admins only.")


class DashboardSerializer(serializers.Serializer):
    project = DashboardProjectSerializer()
    agents = DashboardAgentSerializer(many=True)
    recent_conversations = DashboardConversationSerializer(many=True)
    memory = DashboardMemorySerializer()
    next_schedules = DashboardScheduleSerializer(many=True)
    usage = DashboardUsageSerializer()


# --- HTTP -----------------------------------------------------------------------------------


class ProjectDashboardView(ProjectScopedMixin, APIView):
    """Every member may read it (viewers included); non-members get 404 from the gate."""

    @extend_schema(
        tags=["projects"],
        summary="The project page in one call: agents, recent conversations, memory, next runs, usage",
        responses={200: DashboardSerializer},
    )
    def get(self, request: Request, project_id: Any) -> Response:
        dashboard = dashboard_get(project=self.project, role=self.role)
        return Response(DashboardSerializer(dashboard).data)
