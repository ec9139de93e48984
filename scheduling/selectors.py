"""Reads about schedules and runs. Every read is scoped to a project (or a schedule in one)."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet
from rest_framework.exceptions import NotFound

from projects.models import Project

from .models import Schedule, ScheduleRun


def schedule_list(*, project: Project) -> QuerySet[Schedule]:
    return Schedule.objects.filter(project=project).select_related("agent").order_by("-created_at")


def schedule_get(*, project: Project, schedule_id: uuid.UUID | str) -> Schedule:
    schedule = schedule_list(project=project).filter(pk=schedule_id).first()
    if schedule is None:
        raise NotFound("No such schedule.")
    return schedule


def schedule_run_list(*, schedule: Schedule) -> QuerySet[ScheduleRun]:
    return ScheduleRun.objects.filter(schedule=schedule).select_related("message").order_by("-created_at")


def schedule_next_runs(*, project: Project, limit: int = 5) -> QuerySet[Schedule]:
    """The project's enabled schedules that will run, soonest first (for the dashboard)."""
    return (
        Schedule.objects.filter(project=project, enabled=True, next_run_at__isnull=False)
        .select_related("agent")
        .order_by("next_run_at")[:limit]
    )


def unscoped_schedules_all() -> QuerySet[Schedule]:
    """Every schedule of every project, with its PeriodicTask (drift checks, admin)."""
    return Schedule.objects.select_related(
        "periodic_task",
        "periodic_task__crontab",
        "periodic_task__interval",
        "periodic_task__clocked",
    ).order_by("created_at")
