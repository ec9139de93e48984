"""Schedules (cron, interval, one-off agent runs) and their run history.

Each Schedule owns one django-celery-beat `PeriodicTask` (and that task's own crontab,
interval or clocked row); `scheduling/bridge.py` keeps the two in step.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, IntervalSchedule, PeriodicTask

from platform_site.db import TimeStampedModel


def cascade_with_beat_entry(collector, field, sub_objs, using):
    """on_delete for Schedule.project and Schedule.agent: CASCADE, and also delete each
    schedule's PeriodicTask and its crontab/interval/clocked row, so that deleting a project
    or an agent (through any path: service, admin, queryset) leaves no beat entry behind."""
    models.CASCADE(collector, field, sub_objs, using)
    if hasattr(sub_objs, "values_list"):  # a QuerySet, possibly with deferred fields
        pt_ids = [pk for pk in sub_objs.values_list("periodic_task_id", flat=True) if pk]
    else:
        pt_ids = [s.periodic_task_id for s in sub_objs if s.periodic_task_id]
    if not pt_ids:
        return
    tasks = PeriodicTask.objects.using(using).filter(pk__in=pt_ids)
    collector.collect(tasks, source=Schedule, nullable=True)
    others = PeriodicTask.objects.using(using).exclude(pk__in=pt_ids)
    for timing_model, attr in (
        (CrontabSchedule, "crontab"),
        (IntervalSchedule, "interval"),
        (ClockedSchedule, "clocked"),
    ):
        ids = [i for i in tasks.values_list(f"{attr}_id", flat=True) if i]
        if ids:
            # Only the timing rows no other PeriodicTask uses (ours are never shared).
            own = (
                timing_model.objects.using(using)
                .filter(pk__in=ids)
                .exclude(pk__in=others.filter(**{f"{attr}_id__in": ids}).values(f"{attr}_id"))
            )
            collector.collect(own, source=PeriodicTask, nullable=True)


class Schedule(TimeStampedModel):
    class Kind(models.TextChoices):
        CRON = "cron", "Cron expression"
        INTERVAL = "interval", "Fixed interval"
        ONCE = "once", "Once, at a time"

    project = models.ForeignKey(
        "projects.Project", on_delete=cascade_with_beat_entry, related_name="schedules"
    )
    agent = models.ForeignKey("agents.Agent", on_delete=cascade_with_beat_entry, related_name="schedules")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    cron = models.CharField(max_length=120, blank=True)  # kind=cron: five fields
    interval_seconds = models.PositiveIntegerField(null=True, blank=True)  # kind=interval
    run_at = models.DateTimeField(null=True, blank=True)  # kind=once (UTC)
    timezone = models.CharField(max_length=64, default="UTC")  # IANA; cron fields are wall-clock here
    message = models.TextField()  # what is sent to the agent on each run
    enabled = models.BooleanField(default=True)
    next_run_at = models.DateTimeField(null=True, blank=True)  # shown to users; None: never again
    last_run_at = models.DateTimeField(null=True, blank=True)
    # The beat entry this schedule owns. SET_NULL: a PeriodicTask deleted by hand is drift,
    # which `manage.py schedules_check --repair` recreates.
    periodic_task = models.OneToOneField(
        PeriodicTask, null=True, blank=True, on_delete=models.SET_NULL, related_name="platform_schedule"
    )
    # The conversation the runs go to (one per schedule; a new one if the agent changes).
    conversation = models.ForeignKey(
        "agents.Conversation", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta(TimeStampedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="schedule_unique_name_per_project"),
            models.CheckConstraint(
                condition=Q(kind__in=["cron", "interval", "once"]), name="schedule_kind_valid"
            ),
            models.CheckConstraint(
                condition=(
                    (Q(kind="cron") & ~Q(cron=""))
                    | (Q(kind="interval") & Q(interval_seconds__gte=1))
                    | (Q(kind="once") & Q(run_at__isnull=False))
                ),
                name="schedule_timing_matches_kind",
            ),
        ]
        indexes = [
            # schedule_list: filter(project=…) order by -created_at
            models.Index(fields=["project", "-created_at"], name="schedule_project_recent_idx"),
            # the dashboard's next runs: filter(project=…, enabled=True) order by next_run_at
            models.Index(
                fields=["project", "next_run_at"], condition=Q(enabled=True), name="schedule_next_run_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ScheduleRun(TimeStampedModel):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    class Trigger(models.TextChoices):
        BEAT = "beat", "On schedule"
        MANUAL = "manual", "Run now"

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="runs")
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.BEAT)
    planned_for = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    conversation = models.ForeignKey(
        "agents.Conversation", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message = models.ForeignKey(  # the agent's answer (an assistant message)
        "agents.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(  # run-now only
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta(TimeStampedModel.Meta):
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running", "completed", "failed", "skipped"]),
                name="schedulerun_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(trigger__in=["beat", "manual"]), name="schedulerun_trigger_valid"
            ),
            # No overlap: at most one running run per schedule (the service also checks under a
            # row lock and records the other as skipped).
            models.UniqueConstraint(
                fields=["schedule"],
                condition=Q(status="running"),
                name="schedulerun_one_running_per_schedule",
            ),
            # One record per beat slot: a duplicate delivery of the same slot is dropped.
            models.UniqueConstraint(
                fields=["schedule", "planned_for"],
                condition=Q(trigger="beat"),
                name="schedulerun_unique_beat_slot",
            ),
        ]
        indexes = [
            # schedule_run_list: filter(schedule=…) order by -created_at
            models.Index(fields=["schedule", "-created_at"], name="schedulerun_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.schedule_id} {self.planned_for:%Y-%m-%d %H:%M} {self.status}"
