"""Celery tasks (queue `default`): beat's entry point, and run-now."""

from __future__ import annotations

import logging

from celery import shared_task

from . import services
from .models import ScheduleRun

logger = logging.getLogger(__name__)


@shared_task(name="scheduling.fire", ignore_result=True)
def schedule_fire(schedule_id: str) -> str | None:
    """Sent by beat from the schedule's PeriodicTask (args: [schedule_id])."""
    run = services.schedule_fire(schedule_id=schedule_id)
    if run is None:
        return None
    if run.status == ScheduleRun.Status.RUNNING:
        run = services.schedule_run_execute(run=run)
    return str(run.status)


@shared_task(name="scheduling.run_now", ignore_result=True)
def schedule_run_manual(run_id: str) -> str | None:
    """Queued by `schedule_run_now` after its transaction commits."""
    run = services.schedule_run_claim(run_id=run_id)
    if run is None:
        return None
    if run.status == ScheduleRun.Status.RUNNING:
        run = services.schedule_run_execute(run=run)
    return str(run.status)
