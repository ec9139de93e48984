"""Each schedule owns one PeriodicTask; the services keep them in step; drift is found and repaired."""

import datetime as dt
import json

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    PeriodicTasks,
)
from rest_framework.exceptions import ValidationError

from agents.services import agent_delete
from projects.services import project_delete
from scheduling import bridge, services
from scheduling.models import Schedule
from scheduling.tests.factories import ScheduleFactory, in_future

pytestmark = pytest.mark.django_db


def reload(schedule: Schedule) -> Schedule:
    return Schedule.objects.select_related("periodic_task__crontab").get(pk=schedule.pk)


def test_create_writes_the_periodic_task_with_its_own_crontab(agent):
    schedule = ScheduleFactory(agent=agent, cron="30 8 * * 1-5", timezone="Europe/Berlin")
    task = schedule.periodic_task
    assert task.task == "scheduling.fire" and task.queue == "default"
    assert json.loads(task.args) == [str(schedule.pk)]
    assert task.enabled and not task.one_off
    assert task.description == f"managed by the platform: schedule {schedule.pk}"
    cron = task.crontab
    assert (cron.minute, cron.hour, cron.day_of_month, cron.month_of_year, cron.day_of_week) == (
        "30", "8", "*", "*", "1-5",
    )  # fmt: skip
    assert str(cron.timezone) == "Europe/Berlin"
    assert schedule.next_run_at > timezone.now()
    assert bridge.schedule_drift(reload(schedule)) == []


def test_interval_and_once_use_interval_and_clocked_rows(agent):
    every = ScheduleFactory(agent=agent, kind="interval", cron="", interval_seconds=900)
    assert every.periodic_task.interval.every == 900
    assert every.periodic_task.interval.period == IntervalSchedule.SECONDS
    when = in_future(hours=2)
    once = ScheduleFactory(agent=agent, kind="once", cron="", run_at=when)
    assert once.periodic_task.clocked.clocked_time == when
    assert once.periodic_task.one_off
    assert once.next_run_at == when


def test_an_edit_changes_the_task_in_place_and_beat_sees_a_change(agent):
    schedule = ScheduleFactory(agent=agent, cron="0 9 * * *")
    task_id, crontab_id = schedule.periodic_task_id, schedule.periodic_task.crontab_id
    before = PeriodicTasks.last_change()
    services.schedule_update(schedule=schedule, cron="15 10 * * *", timezone="Asia/Kolkata")
    schedule = reload(schedule)
    assert schedule.periodic_task_id == task_id
    assert schedule.periodic_task.crontab_id == crontab_id
    assert (schedule.periodic_task.crontab.minute, schedule.periodic_task.crontab.hour) == ("15", "10")
    assert str(schedule.periodic_task.crontab.timezone) == "Asia/Kolkata"
    assert PeriodicTasks.last_change() > before  # DatabaseScheduler reloads on this
    assert schedule.next_run_at.astimezone(dt.timezone(dt.timedelta(hours=5, minutes=30))).time() == dt.time(
        10, 15
    )


def test_a_timing_edit_restarts_beats_count_so_nothing_fires_at_once(agent):
    schedule = ScheduleFactory(agent=agent, cron="0 9 * * *")
    PeriodicTask.objects.filter(pk=schedule.periodic_task_id).update(
        last_run_at=timezone.now() - dt.timedelta(days=3)
    )
    services.schedule_update(schedule=schedule, cron="0 12 * * *")
    task = PeriodicTask.objects.get(pk=schedule.periodic_task_id)
    assert task.last_run_at > timezone.now() - dt.timedelta(minutes=1)
    services.schedule_update(schedule=schedule, message="Another message")  # not timing: unchanged
    assert PeriodicTask.objects.get(pk=task.pk).last_run_at == task.last_run_at


def test_changing_kind_replaces_the_timing_row(agent):
    schedule = ScheduleFactory(agent=agent, cron="0 9 * * *")
    crontab_id = schedule.periodic_task.crontab_id
    services.schedule_update(schedule=schedule, kind="interval", interval_seconds=120)
    schedule = reload(schedule)
    assert schedule.cron == "" and schedule.periodic_task.crontab_id is None
    assert schedule.periodic_task.interval.every == 120
    assert not CrontabSchedule.objects.filter(pk=crontab_id).exists()
    assert bridge.schedule_drift(schedule) == []


def test_disable_and_enable(agent):
    schedule = ScheduleFactory(agent=agent)
    services.schedule_disable(schedule=schedule)
    schedule = reload(schedule)
    assert not schedule.enabled and not schedule.periodic_task.enabled and schedule.next_run_at is None
    services.schedule_enable(schedule=schedule)
    schedule = reload(schedule)
    assert schedule.enabled and schedule.periodic_task.enabled and schedule.next_run_at is not None
    # enabling counts from now: runs missed while disabled are not replayed
    assert schedule.periodic_task.last_run_at > timezone.now() - dt.timedelta(minutes=1)


def test_enabling_a_one_off_whose_time_has_passed_is_refused(agent):
    schedule = ScheduleFactory(agent=agent, kind="once", cron="", run_at=in_future(hours=1))
    services.schedule_disable(schedule=schedule)
    Schedule.objects.filter(pk=schedule.pk).update(run_at=timezone.now() - dt.timedelta(minutes=5))
    with pytest.raises(ValidationError) as exc:
        services.schedule_enable(schedule=Schedule.objects.get(pk=schedule.pk))
    assert "run_at" in exc.value.detail
    assert not PeriodicTask.objects.get(pk=schedule.periodic_task_id).enabled  # nothing half-written


def test_bad_input_writes_nothing(agent):
    with pytest.raises(ValidationError) as exc:
        ScheduleFactory(agent=agent, cron="0 25 * * *")
    assert "cron" in exc.value.detail
    assert not Schedule.objects.exists() and not PeriodicTask.objects.filter(task="scheduling.fire").exists()


def test_schedule_delete_removes_its_task_and_timing_row(schedule):
    task_id, crontab_id = schedule.periodic_task_id, schedule.periodic_task.crontab_id
    services.schedule_delete(schedule=schedule)
    assert not PeriodicTask.objects.filter(pk=task_id).exists()
    assert not CrontabSchedule.objects.filter(pk=crontab_id).exists()


def _platform_rows():
    tasks = PeriodicTask.objects.filter(task="scheduling.fire")
    return (
        tasks.count(),
        CrontabSchedule.objects.filter(periodictask__isnull=True).exclude(hour="4", minute="0").count(),
        IntervalSchedule.objects.filter(periodictask__isnull=True).count(),
        ClockedSchedule.objects.filter(periodictask__isnull=True).count(),
    )


def test_agent_delete_leaves_no_orphan_periodic_task(agent):
    ScheduleFactory(agent=agent, cron="0 9 * * *")
    ScheduleFactory(agent=agent, kind="interval", cron="", interval_seconds=600)
    ScheduleFactory(agent=agent, kind="once", cron="", run_at=in_future(days=1))
    assert _platform_rows() == (3, 0, 0, 0)
    before = PeriodicTasks.last_change()
    agent_delete(agent=agent)
    assert not Schedule.objects.exists()
    assert _platform_rows() == (0, 0, 0, 0)
    assert PeriodicTasks.last_change() > before


def test_project_delete_leaves_no_orphan_periodic_task(project, agent, other_agent):
    ScheduleFactory(agent=agent)
    ScheduleFactory(agent=agent, kind="interval", cron="", interval_seconds=600)
    kept = ScheduleFactory(agent=other_agent)
    project_delete(project=project)
    assert list(Schedule.objects.all()) == [kept]
    assert list(PeriodicTask.objects.filter(task="scheduling.fire")) == [kept.periodic_task]
    assert _platform_rows()[1:] == (0, 0, 0)


# --- drift ------------------------------------------------------------------------------------


def run_check(*args):
    from io import StringIO

    out = StringIO()
    call_command("schedules_check", *args, stdout=out)
    return out.getvalue()


def test_check_passes_when_in_step(schedule):
    assert "0 drifted, 0 orphaned" in run_check()


def test_drift_is_found_and_repaired(agent):
    missing = ScheduleFactory(agent=agent, name="missing")
    wrong_cron = ScheduleFactory(agent=agent, name="wrong cron", cron="0 9 * * *", timezone="Europe/Berlin")
    wrong_enabled = ScheduleFactory(agent=agent, name="wrong enabled")
    wrong_args = ScheduleFactory(
        agent=agent, name="wrong args", kind="interval", cron="", interval_seconds=300
    )
    orphan = PeriodicTask.objects.create(
        name="schedule:gone",
        task="scheduling.fire",
        args=json.dumps(["0b0b0b0b-0000-0000-0000-000000000000"]),
        interval=IntervalSchedule.objects.create(every=60, period="seconds"),
    )
    unrelated = PeriodicTask.objects.create(
        name="someone else's",
        task="celery.backend_cleanup",
        interval=IntervalSchedule.objects.create(every=1, period="days"),
    )

    PeriodicTask.objects.filter(pk=missing.periodic_task_id).delete()  # e.g. by hand in the admin
    CrontabSchedule.objects.filter(pk=wrong_cron.periodic_task.crontab_id).update(hour="10", timezone="UTC")
    PeriodicTask.objects.filter(pk=wrong_enabled.periodic_task_id).update(enabled=False)
    PeriodicTask.objects.filter(pk=wrong_args.periodic_task_id).update(args="[]", queue="inference")
    IntervalSchedule.objects.filter(pk=wrong_args.periodic_task.interval_id).update(every=30)

    with pytest.raises(CommandError, match="4 drifted, 1 orphaned"):
        run_check()

    out = run_check("--repair")
    assert "missing" in out and "orphaned" in out
    for schedule in (missing, wrong_cron, wrong_enabled, wrong_args):
        assert bridge.schedule_drift(reload(schedule)) == [], schedule.name
    assert reload(wrong_cron).periodic_task.crontab.hour == "9"
    assert str(reload(wrong_cron).periodic_task.crontab.timezone) == "Europe/Berlin"
    assert reload(wrong_enabled).periodic_task.enabled
    task = reload(wrong_args).periodic_task
    assert (json.loads(task.args), task.queue, task.interval.every) == ([str(wrong_args.pk)], "default", 300)
    assert reload(missing).periodic_task is not None
    assert not PeriodicTask.objects.filter(pk=orphan.pk).exists()
    assert PeriodicTask.objects.filter(pk=unrelated.pk).exists()
    assert "0 drifted, 0 orphaned" in run_check()


def test_a_one_off_disabled_by_beat_after_it_fired_is_not_drift(agent):
    once = ScheduleFactory(agent=agent, kind="once", cron="", run_at=in_future(minutes=5))
    PeriodicTask.objects.filter(pk=once.periodic_task_id).update(enabled=False, total_run_count=1)
    assert bridge.schedule_drift(reload(once)) == []
