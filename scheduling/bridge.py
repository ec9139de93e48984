"""The bridge to django-celery-beat: each Schedule owns one PeriodicTask and that task's own
crontab / interval / clocked row (never shared), written only from here, inside the caller's
transaction. Beat (DatabaseScheduler) sees a change within its 5 s loop: saving a PeriodicTask
bumps `PeriodicTasks.last_update`, so an edit takes effect without restarting beat.

`schedule_drift` compares a Schedule with its PeriodicTask; `manage.py schedules_check
[--repair]` reports and repairs drift (missing, orphaned, wrong timing, enabled flag, args).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone as djtz
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, IntervalSchedule, PeriodicTask

from .models import Schedule

FIRE_TASK = "scheduling.fire"  # scheduling.tasks.schedule_fire
QUEUE = "default"
NAME_PREFIX = "schedule:"


def periodic_task_name(schedule: Schedule) -> str:
    return f"{NAME_PREFIX}{schedule.pk}"


def managed_description(schedule: Schedule) -> str:
    return f"managed by the platform: schedule {schedule.pk}"


@dataclass(frozen=True)
class Expected:
    """What a schedule's PeriodicTask must look like."""

    name: str
    description: str
    args: list[str]
    enabled: bool
    one_off: bool
    timing: str  # "crontab" | "interval" | "clocked"
    timing_values: dict

    def fields(self) -> dict:
        return {
            "name": self.name,
            "task": FIRE_TASK,
            "description": self.description,
            "args": json.dumps(self.args),
            "kwargs": "{}",
            "queue": QUEUE,
            "enabled": self.enabled,
            "one_off": self.one_off,
        }


def expected_for(schedule: Schedule) -> Expected:
    values: dict[str, Any]
    if schedule.kind == Schedule.Kind.CRON:
        minute, hour, dom, month, dow = schedule.cron.split()
        timing, values = (
            "crontab",
            {
                "minute": minute,
                "hour": hour,
                "day_of_month": dom,
                "month_of_year": month,
                "day_of_week": dow,
                "timezone": schedule.timezone,
            },
        )
    elif schedule.kind == Schedule.Kind.INTERVAL:
        timing, values = "interval", {"every": schedule.interval_seconds, "period": IntervalSchedule.SECONDS}
    else:
        timing, values = "clocked", {"clocked_time": schedule.run_at}
    return Expected(
        name=periodic_task_name(schedule),
        description=managed_description(schedule),
        args=[str(schedule.pk)],
        enabled=schedule.enabled,
        one_off=schedule.kind == Schedule.Kind.ONCE,
        timing=timing,
        timing_values=values,
    )


_TIMING_MODELS = {"crontab": CrontabSchedule, "interval": IntervalSchedule, "clocked": ClockedSchedule}


def _timing_value(row, field: str):
    value = getattr(row, field)
    if field == "timezone":
        return str(value)
    return value


def schedule_drift(schedule: Schedule, task: PeriodicTask | None = None) -> list[str]:
    """What differs between a schedule and its PeriodicTask, in words; [] when in step."""
    task = task if task is not None else schedule.periodic_task
    if task is None:
        return ["the PeriodicTask is missing"]
    expected = expected_for(schedule)
    problems = []
    for field, value in expected.fields().items():
        actual = getattr(task, field)
        if field == "enabled" and schedule.kind == Schedule.Kind.ONCE and not actual and task.total_run_count:
            continue  # beat disables a one-off itself once it has sent it
        if field in ("args", "kwargs"):
            with contextlib.suppress(ValueError):
                actual, value = json.loads(actual or "null"), json.loads(value)
        if actual != value:
            problems.append(f"{field} is {actual!r}, expected {value!r}")
    for other in _TIMING_MODELS:
        if other != expected.timing and getattr(task, f"{other}_id"):
            problems.append(f"has a {other} schedule, expected only a {expected.timing}")
    if task.solar_id:
        problems.append("has a solar schedule")
    row = getattr(task, expected.timing)
    if row is None:
        problems.append(f"has no {expected.timing} schedule")
    else:
        for field, value in expected.timing_values.items():
            if _timing_value(row, field) != value:
                problems.append(
                    f"{expected.timing}.{field} is {_timing_value(row, field)!r}, expected {value!r}"
                )
    return problems


def _timing_row_save(task: PeriodicTask | None, expected: Expected):
    """The schedule's own timing row, updated in place (or a new one), with the row it replaces."""
    model = _TIMING_MODELS[expected.timing]
    current = getattr(task, expected.timing) if task is not None else None
    if (
        task is not None
        and current is not None
        and not PeriodicTask.objects.filter(**{expected.timing: current}).exclude(pk=task.pk).exists()
    ):
        for field, value in expected.timing_values.items():
            setattr(current, field, value)
        current.save()
        return current
    return model.objects.create(**expected.timing_values)


def periodic_task_sync(*, schedule: Schedule, timing_changed: bool) -> PeriodicTask:
    """Create or update the schedule's PeriodicTask to match it. Call inside a transaction.

    `timing_changed` (a new schedule, an edit of its timing, or enabling it) restarts beat's
    count from now: without that, beat would compare the new timing with the old last run
    and could fire at once for a slot "missed" before the edit.
    """
    task = schedule.periodic_task
    if task is not None:
        task = PeriodicTask.objects.select_for_update().filter(pk=task.pk).first()
    expected = expected_for(schedule)
    old_rows = []
    if task is not None:
        old_rows = [
            (f, getattr(task, f)) for f in _TIMING_MODELS if f != expected.timing and getattr(task, f"{f}_id")
        ]
    row = _timing_row_save(task, expected)
    if task is None:
        task = PeriodicTask(name=expected.name)
        timing_changed = True
    for field, value in expected.fields().items():
        setattr(task, field, value)
    for field in _TIMING_MODELS:
        setattr(task, field, row if field == expected.timing else None)
    task.solar = None
    task.start_time = None
    task.expires = None
    task.expire_seconds = None
    if timing_changed:
        task.last_run_at = djtz.now()
        task.total_run_count = 0
    task.save()
    for field, old in old_rows:
        if not PeriodicTask.objects.filter(**{field: old}).exists():
            old.delete()
    if schedule.periodic_task_id != task.pk:
        schedule.periodic_task = task
        schedule.save(update_fields=["periodic_task", "updated_at"])
    return task


def periodic_task_delete(task: PeriodicTask) -> None:
    """Delete a PeriodicTask and its own timing row (if no other task uses it)."""
    rows = [(f, getattr(task, f)) for f in _TIMING_MODELS if getattr(task, f"{f}_id")]
    task.delete()
    for field, row in rows:
        if not PeriodicTask.objects.filter(**{field: row}).exists():
            row.delete()


def orphaned_periodic_tasks() -> QuerySet[PeriodicTask]:
    """Platform PeriodicTasks (by task name or our name prefix) that no schedule owns."""
    from django.db.models import Q

    return PeriodicTask.objects.filter(Q(task=FIRE_TASK) | Q(name__startswith=NAME_PREFIX)).filter(
        platform_schedule__isnull=True
    )
