"""HTTP for schedules and their runs. Views only do HTTP; the tenant gate scopes everything.

Permissions: every member reads schedules and runs; admins create, change, delete and
run-now (a run-now spends inference and writes into the schedule's conversation, which is
part of managing the schedule; members chat with the agent directly instead).
"""

from __future__ import annotations

from typing import cast

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import User
from agents.selectors import agent_list
from projects.tenancy import MANAGE, VIEW, ProjectScopedMixin

from . import selectors, services
from .models import Schedule, ScheduleRun
from .serializers import (
    RunConflictResponseSerializer,
    ScheduleRunSerializer,
    ScheduleSerializer,
    ScheduleWriteSerializer,
)

TAGS = ["schedules"]


@extend_schema_view(
    list=extend_schema(tags=TAGS, responses=ScheduleSerializer(many=True)),
    retrieve=extend_schema(tags=TAGS, responses=ScheduleSerializer),
    create=extend_schema(tags=TAGS, request=ScheduleWriteSerializer, responses={201: ScheduleSerializer}),
    partial_update=extend_schema(
        tags=TAGS, request=ScheduleWriteSerializer(partial=True), responses=ScheduleSerializer
    ),
    destroy=extend_schema(tags=TAGS, responses={204: None}),
)
class ScheduleViewSet(
    ProjectScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Schedules: members and viewers read; admins write and run-now."""

    queryset = Schedule.objects.select_related("agent")
    serializer_class = ScheduleSerializer
    lookup_url_kwarg = "schedule_id"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    project_permissions = {"run_now": MANAGE}

    def get_queryset(self):
        return super().get_queryset().order_by("-created_at")

    def _agent(self, agent_id):
        agent = agent_list(project=self.project).filter(pk=agent_id).first()
        if agent is None:
            raise ValidationError({"agent": ["No such agent in this project."]})
        return agent

    def create(self, request: Request, *args, **kwargs) -> Response:
        data = ScheduleWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        fields["agent"] = self._agent(fields["agent"])
        schedule = services.schedule_create(
            project=self.project, created_by=cast(User, request.user), **fields
        )
        return Response(ScheduleSerializer(schedule).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        schedule = self.get_object()
        data = ScheduleWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        if "agent" in fields:
            fields["agent"] = self._agent(fields["agent"])
        schedule = services.schedule_update(schedule=schedule, **fields)
        return Response(
            ScheduleSerializer(selectors.schedule_get(project=self.project, schedule_id=schedule.pk)).data
        )

    def destroy(self, request: Request, *args, **kwargs) -> Response:
        services.schedule_delete(schedule=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        tags=TAGS,
        request=None,
        responses={202: ScheduleRunSerializer, 409: RunConflictResponseSerializer},
    )
    @action(detail=True, methods=["post"], url_path="run-now")
    def run_now(self, request: Request, *args, **kwargs) -> Response:
        """Queue a run now, enabled or not (admins). 409 if the agent is paused or a run is going."""
        run = services.schedule_run_now(schedule=self.get_object(), requested_by=cast(User, request.user))
        return Response(ScheduleRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(tags=TAGS, responses=ScheduleRunSerializer(many=True))
class ScheduleRunListView(ProjectScopedMixin, generics.ListAPIView):
    """A schedule's runs, newest first: queued, running, completed, failed or skipped."""

    queryset = ScheduleRun.objects.select_related("message")
    serializer_class = ScheduleRunSerializer
    project_lookup = "schedule__project"
    project_permissions = {"GET": VIEW}

    def get_queryset(self):
        qs = super().get_queryset()
        if getattr(self, "swagger_fake_view", False):
            return qs
        schedule = selectors.schedule_get(project=self.project, schedule_id=self.kwargs["schedule_id"])
        return qs.filter(schedule=schedule).order_by("-created_at")
