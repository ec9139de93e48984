"""Beat's side of the missed-run policy, "run once at start if missed", driven through the
scheduler's own entries (no beat process)."""

import datetime as dt

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler, ModelEntry

from platform_site.celery import app
from scheduling.scheduler import PlatformScheduler
from scheduling.tests.factories import ScheduleFactory, in_future

pytestmark = pytest.mark.django_db


def entry_for(schedule, *, last_run_at):
    PeriodicTask.objects.filter(pk=schedule.periodic_task_id).update(last_run_at=last_run_at)
    return ModelEntry(PeriodicTask.objects.get(pk=schedule.periodic_task_id), app=app)


def _far_hour() -> str:
    return str((timezone.now().hour + 12) % 24)


@pytest.mark.parametrize("kind", ["cron", "interval"])
def test_an_entry_that_missed_many_runs_is_due_once_then_counts_from_that_run(agent, kind):
    if kind == "cron":
        schedule = ScheduleFactory(agent=agent, cron=f"0 {_far_hour()} * * *")
    else:
        schedule = ScheduleFactory(agent=agent, kind="interval", cron="", interval_seconds=600)
    entry = entry_for(schedule, last_run_at=timezone.now() - dt.timedelta(days=3))  # beat was down 3 days
    assert entry.is_due().is_due
    after_run = next(entry)  # what beat does when it sends the task
    assert not after_run.is_due().is_due


def test_a_one_off_whose_time_passed_while_beat_was_down_is_due_once(agent):
    once = ScheduleFactory(agent=agent, kind="once", cron="", run_at=in_future(minutes=1))
    PeriodicTask.objects.filter(pk=once.periodic_task_id).update(last_run_at=None)
    from django_celery_beat.models import ClockedSchedule

    ClockedSchedule.objects.filter(pk=once.periodic_task.clocked_id).update(
        clocked_time=timezone.now() - dt.timedelta(hours=5)
    )
    entry = ModelEntry(PeriodicTask.objects.get(pk=once.periodic_task_id), app=app)
    assert entry.is_due().is_due
    sent = next(entry)
    assert not sent.is_due().is_due  # one_off: beat disables it after the first send
    assert not PeriodicTask.objects.get(pk=once.periodic_task_id).enabled


def test_platform_scheduler_loads_cron_entries_far_from_the_current_hour(agent):
    """DatabaseScheduler leaves out crontab entries whose hour is >2 h away, so a missed
    "0 <far hour>" run would not run at beat start; PlatformScheduler loads them all."""
    schedule = ScheduleFactory(agent=agent, cron=f"0 {_far_hour()} * * *")
    name = schedule.periodic_task.name
    stock = DatabaseScheduler.__new__(DatabaseScheduler)
    assert name not in [t.name for t in stock.enabled_models_qs()]
    ours = PlatformScheduler.__new__(PlatformScheduler)
    assert name in [t.name for t in ours.enabled_models_qs()]


def test_beat_is_configured_with_the_platform_scheduler(settings):
    from django_celery_beat.utils import is_database_scheduler
    from kombu.utils import symbol_by_name

    assert symbol_by_name(settings.CELERY_BEAT_SCHEDULER) is PlatformScheduler
    assert is_database_scheduler(settings.CELERY_BEAT_SCHEDULER)  # the admin shows no "wrong scheduler"
