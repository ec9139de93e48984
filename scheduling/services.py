"""Writes for schedules and their runs.

Every write that changes when or whether a schedule runs also writes its PeriodicTask
(`scheduling.bridge`) in the same transaction, so beat and the schedule never disagree.

A run goes through the agent pipeline (`agents.services.agent_run_once`) in the schedule's
own conversation, as `system:scheduler`. No transaction is open during the agent's turn.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone as djtz
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError

from accounts.models import User
from agents.models import Agent, Message
from projects.models import Project

from . import bridge, timing
from .models import Schedule, ScheduleRun

logger = logging.getLogger(__name__)

SENDER = "system:scheduler"


class RunConflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "This schedule cannot run now."
    default_code = "conflict"


# --- validation -------------------------------------------------------------------------------


def _localize(value: dt.datetime, zone_name: str) -> dt.datetime:
    """A naive run_at is a wall-clock time in the schedule's time zone; an aware one is kept."""
    if djtz.is_naive(value):
        return timing._wall_to_utc(value, timing.get_zone(zone_name))
    return value.astimezone(dt.UTC)


def _validate(schedule: Schedule, *, now: dt.datetime, check_run_at: bool) -> None:
    """Check a schedule's timing and fill in `next_run_at`. Raises ValidationError naming the field."""
    errors: dict[str, list[str]] = {}
    try:
        timing.get_zone(schedule.timezone)
    except timing.TimingError as exc:
        errors[exc.field] = [exc.message]
    if schedule.kind == Schedule.Kind.CRON:
        schedule.interval_seconds, schedule.run_at = None, None
        try:
            spec = timing.parse_cron(schedule.cron)
            schedule.cron = spec.expression
        except timing.TimingError as exc:
            errors["cron"] = [exc.message]
    elif schedule.kind == Schedule.Kind.INTERVAL:
        schedule.cron, schedule.run_at = "", None
        minimum = settings.SCHEDULES_MIN_INTERVAL_SECONDS
        if not schedule.interval_seconds or schedule.interval_seconds < minimum:
            errors["interval_seconds"] = [f"An interval is at least {minimum} seconds."]
    elif schedule.kind == Schedule.Kind.ONCE:
        schedule.cron, schedule.interval_seconds = "", None
        if schedule.run_at is None:
            errors["run_at"] = ["A one-off schedule needs run_at."]
        elif check_run_at and schedule.run_at <= now:
            errors["run_at"] = ["This time is in the past."]
    else:
        errors["kind"] = ["Choose cron, interval or once."]
    if not (schedule.message or "").strip():
        errors["message"] = ["The message to send to the agent is required."]
    elif len(schedule.message) > settings.AGENT_MAX_MESSAGE_CHARS:
        errors["message"] = [f"At most {settings.AGENT_MAX_MESSAGE_CHARS} characters."]
    if not (schedule.name or "").strip():
        errors["name"] = ["A name is required."]
    elif (
        Schedule.objects.filter(project_id=schedule.project_id, name=schedule.name)
        .exclude(pk=schedule.pk)
        .exists()
    ):
        errors["name"] = ["A schedule with this name already exists in the project."]
    if errors:
        raise ValidationError(errors)
    schedule.next_run_at = _next_run(schedule, after=now) if schedule.enabled else None
    if schedule.enabled and schedule.kind == Schedule.Kind.CRON and schedule.next_run_at is None:
        raise ValidationError({"cron": ["This expression never matches a time in the next 8 years."]})


def _next_run(schedule: Schedule, *, after: dt.datetime) -> dt.datetime | None:
    return timing.next_run(
        kind=schedule.kind,
        after=after,
        cron=schedule.cron,
        timezone=schedule.timezone,
        interval_seconds=schedule.interval_seconds,
        run_at=schedule.run_at,
    )


def _check_agent(*, project: Project, agent: Agent) -> None:
    if agent is None or agent.project_id != project.pk:
        raise ValidationError({"agent": ["No such agent in this project."]})


# --- schedules --------------------------------------------------------------------------------


@transaction.atomic
def schedule_create(
    *,
    project: Project,
    agent: Agent,
    name: str,
    kind: str,
    message: str,
    cron: str = "",
    interval_seconds: int | None = None,
    run_at: dt.datetime | None = None,
    timezone: str = "UTC",
    enabled: bool = True,
    created_by: User | None = None,
) -> Schedule:
    _check_agent(project=project, agent=agent)
    now = djtz.now()
    schedule = Schedule(
        id=uuid.uuid4(),
        project=project,
        agent=agent,
        name=(name or "").strip(),
        kind=kind,
        cron=cron or "",
        interval_seconds=interval_seconds,
        timezone=timezone or "UTC",
        message=message or "",
        enabled=enabled,
        created_by=created_by,
    )
    if run_at is not None:
        try:
            schedule.run_at = _localize(run_at, schedule.timezone)
        except timing.TimingError as exc:
            raise ValidationError({exc.field: [exc.message]}) from None
    _validate(schedule, now=now, check_run_at=True)
    schedule.save(force_insert=True)
    bridge.periodic_task_sync(schedule=schedule, timing_changed=True)
    return schedule


_TIMING_FIELDS = ("kind", "cron", "interval_seconds", "run_at", "timezone")
_UPDATABLE = ("agent", "name", "message", "enabled", *_TIMING_FIELDS)


@transaction.atomic
def schedule_update(*, schedule: Schedule, **changes: Any) -> Schedule:
    """Change any of agent, name, kind, cron, interval_seconds, run_at, timezone, message, enabled.

    A change of timing (or enabling) restarts the count from now; a one-off must then be
    in the future. Changing the agent starts a new conversation at the next run.
    """
    unknown = set(changes) - set(_UPDATABLE)
    if unknown:
        raise TypeError(f"schedule_update() got unexpected fields {sorted(unknown)}")
    schedule = (
        Schedule.objects.select_for_update(of=("self",))
        .select_related("periodic_task")
        .get(pk=schedule.pk, project_id=schedule.project_id)
    )
    was_enabled = schedule.enabled
    if "agent" in changes:
        _check_agent(project=schedule.project, agent=changes["agent"])
    fields = []
    for field, value in changes.items():
        if field == "run_at" and value is not None:
            try:
                value = _localize(value, changes.get("timezone", schedule.timezone))
            except timing.TimingError as exc:
                raise ValidationError({exc.field: [exc.message]}) from None
        if field in ("name", "cron") and value is not None:
            value = value.strip()
        if getattr(schedule, f"{field}_id" if field == "agent" else field) != (
            value.pk if field == "agent" else value
        ):
            setattr(schedule, field, value)
            fields.append(field)
    timing_changed = any(f in _TIMING_FIELDS for f in fields) or (schedule.enabled and not was_enabled)
    _validate(schedule, now=djtz.now(), check_run_at=timing_changed and schedule.enabled)
    if "agent" in fields:
        schedule.conversation = None
        fields.append("conversation")
    schedule.save(
        update_fields=[*fields, "cron", "interval_seconds", "run_at", "next_run_at", "updated_at"]
        if fields
        else ["next_run_at", "updated_at"]
    )
    bridge.periodic_task_sync(schedule=schedule, timing_changed=timing_changed)
    return schedule


def schedule_enable(*, schedule: Schedule) -> Schedule:
    return schedule_update(schedule=schedule, enabled=True)


def schedule_disable(*, schedule: Schedule) -> Schedule:
    return schedule_update(schedule=schedule, enabled=False)


@transaction.atomic
def schedule_delete(*, schedule: Schedule) -> None:
    """Delete the schedule, its runs, its PeriodicTask and the task's timing row.

    The conversation stays (it is the project's history) and can be deleted on its own.
    """
    schedule = (
        Schedule.objects.select_for_update(of=("self",))
        .select_related("periodic_task")
        .get(pk=schedule.pk, project_id=schedule.project_id)
    )
    task = schedule.periodic_task
    schedule.delete()
    if task is not None:
        bridge.periodic_task_delete(task)


@transaction.atomic
def schedule_repair(*, schedule: Schedule) -> list[str]:
    """Bring the schedule's PeriodicTask back in step (drift repair). Returns what was wrong."""
    schedule = (
        Schedule.objects.select_for_update(of=("self",)).select_related("periodic_task").get(pk=schedule.pk)
    )
    problems = bridge.schedule_drift(schedule)
    if problems:
        task = schedule.periodic_task
        timing_changed = task is None or any(
            p.startswith(("crontab", "interval", "clocked", "has ")) for p in problems
        )
        bridge.periodic_task_sync(schedule=schedule, timing_changed=timing_changed)
    return problems


@transaction.atomic
def periodic_task_orphan_delete(*, task_id: int) -> None:
    task = bridge.orphaned_periodic_tasks().select_for_update(of=("self",)).filter(pk=task_id).first()
    if task is not None:
        bridge.periodic_task_delete(task)


# --- runs -------------------------------------------------------------------------------------


def _stale_runs_fail(*, schedule: Schedule, now: dt.datetime) -> None:
    """A run still 'running' after the Celery hard time limit lost its worker: mark it failed,
    so that it does not block the schedule forever. Same for a run-now never picked up."""
    running_limit = now - dt.timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    ScheduleRun.objects.filter(
        schedule=schedule, status=ScheduleRun.Status.RUNNING, started_at__lt=running_limit
    ).update(
        status=ScheduleRun.Status.FAILED,
        finished_at=now,
        error="The worker running it stopped.",
        updated_at=now,
    )
    queued_limit = now - dt.timedelta(hours=1)
    ScheduleRun.objects.filter(
        schedule=schedule, status=ScheduleRun.Status.QUEUED, created_at__lt=queued_limit
    ).update(
        status=ScheduleRun.Status.FAILED, finished_at=now, error="No worker picked it up.", updated_at=now
    )


def _old_runs_delete(*, schedule: Schedule, now: dt.datetime) -> None:
    """Runs older than SCHEDULES_RUN_RETENTION_DAYS go (pruned per schedule as it runs)."""
    days = settings.SCHEDULES_RUN_RETENTION_DAYS
    if days > 0:
        ScheduleRun.objects.filter(schedule=schedule, created_at__lt=now - dt.timedelta(days=days)).exclude(
            status__in=[ScheduleRun.Status.QUEUED, ScheduleRun.Status.RUNNING]
        ).delete()


def _planned_for(schedule: Schedule, now: dt.datetime) -> dt.datetime:
    if schedule.kind == Schedule.Kind.CRON:
        slot = timing.cron_latest_at_or_before(
            timing.parse_cron(schedule.cron), timing.get_zone(schedule.timezone), now + timing.CLOCK_TOLERANCE
        )
        return slot or now
    if schedule.kind == Schedule.Kind.ONCE and schedule.run_at is not None:
        return schedule.run_at
    return now.replace(microsecond=0)


def _ensure_conversation(schedule: Schedule) -> None:
    """The schedule's own conversation (created at its first run). Call under the row lock."""
    from agents.services import conversation_create

    conversation = schedule.conversation
    if conversation is None or conversation.agent_id != schedule.agent_id:
        schedule.conversation = conversation_create(
            project=schedule.project,
            agent=schedule.agent,
            created_by=schedule.created_by,
            title=f"Schedule: {schedule.name}"[:200],
        )
        schedule.save(update_fields=["conversation", "updated_at"])


def schedule_fire(*, schedule_id: uuid.UUID | str, now: dt.datetime | None = None) -> ScheduleRun | None:
    """What beat's task does: record a run (running or skipped) and return it; None when no
    run is recorded (schedule gone or disabled, agent paused, or a duplicate delivery of a slot
    that already has its run). The caller then executes a running run."""
    now = now or djtz.now()
    try:
        with transaction.atomic():
            return _schedule_fire_locked(schedule_id=schedule_id, now=now)
    except IntegrityError:
        # Another worker recorded this slot (or a running run) between our check and insert.
        logger.info("schedule %s: a concurrent delivery already recorded this slot", schedule_id)
        return None


def _schedule_fire_locked(*, schedule_id: uuid.UUID | str, now: dt.datetime) -> ScheduleRun | None:
    schedule = (
        Schedule.objects.select_for_update(of=("self",))
        .select_related("agent", "project", "conversation", "created_by")
        .filter(pk=schedule_id)
        .first()
    )
    if schedule is None or not schedule.enabled:
        logger.info("schedule %s: deleted or disabled, no run", schedule_id)
        return None
    planned = _planned_for(schedule, now)
    beat_runs = ScheduleRun.objects.filter(schedule=schedule, trigger=ScheduleRun.Trigger.BEAT)
    if beat_runs.filter(planned_for=planned).exists():
        logger.info(
            "schedule %s: slot %s already has its run; duplicate delivery dropped", schedule_id, planned
        )
        return None
    if (
        schedule.kind == Schedule.Kind.INTERVAL
        and beat_runs.filter(
            planned_for__gt=now - dt.timedelta(seconds=(schedule.interval_seconds or 0) / 2)
        ).exists()
    ):
        # Deliveries that piled up while no worker ran: run once, not once per delivery.
        logger.info(
            "schedule %s: a run started less than half an interval ago; delivery dropped", schedule_id
        )
        return None

    fields = ["next_run_at", "updated_at"]
    if schedule.kind == Schedule.Kind.ONCE:
        schedule.enabled = False  # a one-off is used up when its time comes (beat disables it too)
        fields.append("enabled")
    schedule.next_run_at = _next_run(schedule, after=now) if schedule.enabled else None
    if schedule.agent.status != Agent.Status.ACTIVE:
        schedule.save(update_fields=fields)
        if schedule.kind == Schedule.Kind.ONCE:
            bridge.periodic_task_sync(schedule=schedule, timing_changed=False)
        logger.info("schedule %s: agent %s is paused, no run", schedule_id, schedule.agent_id)
        return None

    _stale_runs_fail(schedule=schedule, now=now)
    _old_runs_delete(schedule=schedule, now=now)
    running = ScheduleRun.objects.filter(schedule=schedule, status=ScheduleRun.Status.RUNNING).first()
    if running is not None:
        run = ScheduleRun.objects.create(
            schedule=schedule,
            trigger=ScheduleRun.Trigger.BEAT,
            planned_for=planned,
            status=ScheduleRun.Status.SKIPPED,
            finished_at=now,
            error=f"The previous run ({running.pk}) was still running.",
        )
    else:
        _ensure_conversation(schedule)
        run = ScheduleRun.objects.create(
            schedule=schedule,
            trigger=ScheduleRun.Trigger.BEAT,
            planned_for=planned,
            status=ScheduleRun.Status.RUNNING,
            started_at=now,
            conversation=schedule.conversation,
        )
        schedule.last_run_at = now
        fields.append("last_run_at")
    schedule.save(update_fields=fields)
    if schedule.kind == Schedule.Kind.ONCE:
        bridge.periodic_task_sync(schedule=schedule, timing_changed=False)
    return run


@transaction.atomic
def schedule_run_now(*, schedule: Schedule, requested_by: User | None) -> ScheduleRun:
    """Queue a run now (whether or not the schedule is enabled). 409 if the agent is paused or
    a run of this schedule is queued or running. The task starts after commit."""
    from .tasks import schedule_run_manual

    now = djtz.now()
    schedule = (
        Schedule.objects.select_for_update(of=("self",))
        .select_related("agent")
        .get(pk=schedule.pk, project_id=schedule.project_id)
    )
    if schedule.agent.status != Agent.Status.ACTIVE:
        raise RunConflict("The agent is paused.", code="agent_paused")
    _stale_runs_fail(schedule=schedule, now=now)
    if ScheduleRun.objects.filter(
        schedule=schedule, status__in=[ScheduleRun.Status.QUEUED, ScheduleRun.Status.RUNNING]
    ).exists():
        raise RunConflict("A run of this schedule is already queued or running.", code="run_in_progress")
    run = ScheduleRun.objects.create(
        schedule=schedule,
        trigger=ScheduleRun.Trigger.MANUAL,
        planned_for=now,
        status=ScheduleRun.Status.QUEUED,
        requested_by=requested_by,
    )
    run_id = str(run.pk)
    transaction.on_commit(lambda: schedule_run_manual.delay(run_id))
    return run


def schedule_run_claim(*, run_id: uuid.UUID | str, now: dt.datetime | None = None) -> ScheduleRun | None:
    """A worker takes a queued run-now run: running, or skipped if another run is running (or
    the agent was paused meanwhile). None if the run is gone or no longer queued."""
    now = now or djtz.now()
    try:
        with transaction.atomic():
            run = ScheduleRun.objects.select_for_update().filter(pk=run_id).first()
            if run is None or run.status != ScheduleRun.Status.QUEUED:
                return None
            schedule = (
                Schedule.objects.select_for_update(of=("self",))
                .select_related("agent", "project", "conversation", "created_by")
                .get(pk=run.schedule_id)
            )
            _stale_runs_fail(schedule=schedule, now=now)
            running = ScheduleRun.objects.filter(schedule=schedule, status=ScheduleRun.Status.RUNNING).first()
            if running is not None or schedule.agent.status != Agent.Status.ACTIVE:
                run.status = ScheduleRun.Status.SKIPPED
                run.finished_at = now
                run.error = (
                    f"The previous run ({running.pk}) was still running."
                    if running is not None
                    else "The agent is paused."
                )
                run.save(update_fields=["status", "finished_at", "error", "updated_at"])
                return run
            _ensure_conversation(schedule)
            run.status = ScheduleRun.Status.RUNNING
            run.started_at = now
            run.conversation = schedule.conversation
            run.save(update_fields=["status", "started_at", "conversation", "updated_at"])
            schedule.last_run_at = now
            schedule.save(update_fields=["last_run_at", "updated_at"])
            return run
    except IntegrityError:
        logger.info("run %s: another run started first", run_id)
        return None


def schedule_run_execute(*, run: ScheduleRun) -> ScheduleRun:
    """Send the schedule's message to its agent (a whole turn, no transaction open) and record
    the outcome on the run: completed with the answer, or failed with the error."""
    from agents.services import agent_run_once

    schedule = run.schedule
    if run.conversation is None:  # set when the run was claimed; gone only if deleted since
        return schedule_run_finish(run=run, answer=None, error="The schedule's conversation was deleted.")
    answer: Message | None = None
    error = ""
    try:
        answer = agent_run_once(
            agent=schedule.agent,
            conversation=run.conversation,
            content=schedule.message,
            sender_system=SENDER,
        )
    except Exception as exc:  # noqa: BLE001 - any failure is recorded on the run
        logger.exception("schedule %s run %s failed", schedule.pk, run.pk)
        error = f"{type(exc).__name__}: {exc}"[:2000]
    return schedule_run_finish(run=run, answer=answer, error=error)


@transaction.atomic
def schedule_run_finish(*, run: ScheduleRun, answer: Message | None, error: str = "") -> ScheduleRun:
    run = ScheduleRun.objects.select_for_update().get(pk=run.pk)
    run.message = answer
    if answer is not None and answer.status == Message.Status.COMPLETED:
        run.status = ScheduleRun.Status.COMPLETED
    else:
        run.status = ScheduleRun.Status.FAILED
        run.error = (
            error
            or (answer.error if answer is not None else "")
            or f"The answer was {answer and answer.status}."
        )
    run.finished_at = djtz.now()
    run.save(update_fields=["message", "status", "error", "finished_at", "updated_at"])
    return run
