"""Input and output shapes for schedules and runs. No logic: the services validate and write."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from . import timing
from .models import Schedule, ScheduleRun


class WallClockDateTimeField(serializers.DateTimeField):
    """ISO 8601. With a zone (or Z) it is that instant; without one it is a wall-clock time in
    the schedule's `timezone` (the service applies it)."""

    def enforce_timezone(self, value):
        return value


class ScheduleSerializer(serializers.ModelSerializer):
    agent = serializers.UUIDField(source="agent_id", read_only=True)
    agent_name = serializers.CharField(source="agent.name", read_only=True)
    conversation = serializers.UUIDField(source="conversation_id", read_only=True, allow_null=True)
    cron_description = serializers.SerializerMethodField(
        help_text="A human reading of the cron expression (kind=cron), e.g. 'At 09:00, Monday through "
        "Friday'."
    )
    next_run_local = serializers.SerializerMethodField(
        help_text="next_run_at as a wall-clock time in the schedule's time zone (ISO 8601 with its offset)."
    )

    class Meta:
        model = Schedule
        fields = [
            "id",
            "name",
            "agent",
            "agent_name",
            "kind",
            "cron",
            "cron_description",
            "interval_seconds",
            "run_at",
            "timezone",
            "message",
            "enabled",
            "next_run_at",
            "next_run_local",
            "last_run_at",
            "conversation",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.STR)
    def get_cron_description(self, obj: Schedule) -> str | None:
        return timing.describe_cron(obj.cron) if obj.kind == Schedule.Kind.CRON and obj.cron else None

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_next_run_local(self, obj: Schedule) -> str | None:
        if obj.next_run_at is None:
            return None
        try:
            return obj.next_run_at.astimezone(ZoneInfo(obj.timezone)).isoformat()
        except (KeyError, ValueError):
            return obj.next_run_at.isoformat()


class ScheduleWriteSerializer(serializers.Serializer):
    agent = serializers.UUIDField(help_text="An agent of this project.")
    name = serializers.CharField(max_length=120)
    kind = serializers.ChoiceField(choices=Schedule.Kind.choices)
    cron = serializers.CharField(
        max_length=120,
        required=False,
        allow_blank=True,
        help_text="kind=cron: five fields, minute hour day-of-month month day-of-week, wall-clock in "
        "`timezone`. When day-of-month and day-of-week are both restricted, both must match.",
    )
    interval_seconds = serializers.IntegerField(
        min_value=1, required=False, allow_null=True, help_text="kind=interval: seconds between runs."
    )
    run_at = WallClockDateTimeField(
        required=False,
        allow_null=True,
        help_text="kind=once: when to run. Without a zone it is read in `timezone`. Must be in the future.",
    )
    timezone = serializers.CharField(max_length=64, required=False, help_text="An IANA name; default UTC.")
    message = serializers.CharField(help_text="What is sent to the agent on each run.", trim_whitespace=False)
    enabled = serializers.BooleanField(required=False)


class ScheduleRunSerializer(serializers.ModelSerializer):
    schedule = serializers.UUIDField(source="schedule_id", read_only=True)
    conversation = serializers.UUIDField(source="conversation_id", read_only=True, allow_null=True)
    message = serializers.UUIDField(
        source="message_id", read_only=True, allow_null=True, help_text="The agent's answer (a message id)."
    )
    answer = serializers.CharField(
        source="message.content",
        read_only=True,
        allow_null=True,
        default=None,
        help_text="The answer's text.",
    )

    class Meta:
        model = ScheduleRun
        fields = [
            "id",
            "schedule",
            "trigger",
            "status",
            "planned_for",
            "started_at",
            "finished_at",
            "conversation",
            "message",
            "answer",
            "error",
            "created_at",
        ]
        read_only_fields = fields


class RunConflictErrorSerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=["agent_paused", "run_in_progress"])
    detail = serializers.CharField()
    attr = serializers.CharField(allow_null=True)


class RunConflictResponseSerializer(serializers.Serializer):
    """409 from run-now: the agent is paused, or a run of this schedule is queued or running."""

    type = serializers.ChoiceField(choices=["client_error"])
    errors = RunConflictErrorSerializer(many=True)  # type: ignore[assignment]  # as drf-standardized-errors does
