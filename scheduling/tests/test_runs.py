"""What a delivery from beat records: a run, a skipped run on overlap, or nothing (disabled
schedule, paused agent, duplicate delivery); run-now; the outcome of a run."""

import datetime as dt

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from agents.models import Agent, Message
from agents.services import agent_update
from scheduling import services
from scheduling.models import Schedule, ScheduleRun
from scheduling.tests.factories import ScheduleFactory, in_future

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.fixture
def hourly(agent, owner):
    return ScheduleFactory(
        agent=agent, created_by=owner, name="Hourly", cron="0 * * * *", timezone="Europe/Berlin"
    )


def test_a_delivery_records_a_running_run_in_the_schedules_own_conversation(hourly):
    run = services.schedule_fire(schedule_id=hourly.pk, now=at(2026, 3, 29, 1, 0, 2))
    assert run.status == ScheduleRun.Status.RUNNING
    assert run.planned_for == at(2026, 3, 29, 1)  # the cron slot, not the delivery time
    assert run.started_at == at(2026, 3, 29, 1, 0, 2)
    hourly.refresh_from_db()
    assert run.conversation_id == hourly.conversation_id is not None
    assert hourly.conversation.agent_id == hourly.agent_id
    assert hourly.last_run_at == at(2026, 3, 29, 1, 0, 2)
    assert hourly.next_run_at == at(2026, 3, 29, 2)
    # the next run reuses the conversation
    services.schedule_run_finish(run=run, answer=None, error="x")
    second = services.schedule_fire(schedule_id=hourly.pk, now=at(2026, 3, 29, 2, 0, 1))
    assert second.conversation_id == hourly.conversation_id


@pytest.fixture
def every5(agent):
    return ScheduleFactory(agent=agent, name="Every 5 min", cron="*/5 * * * *")


def test_overlap_records_a_skipped_run_and_starts_nothing(every5):
    first = services.schedule_fire(schedule_id=every5.pk, now=at(2026, 5, 1, 9, 0, 1))
    assert first.status == ScheduleRun.Status.RUNNING
    second = services.schedule_fire(schedule_id=every5.pk, now=at(2026, 5, 1, 9, 5, 1))
    assert second.status == ScheduleRun.Status.SKIPPED
    assert second.planned_for == at(2026, 5, 1, 9, 5)
    assert str(first.pk) in second.error
    assert ScheduleRun.objects.filter(schedule=every5, status="running").count() == 1
    # once the first one finished, the next slot runs again
    services.schedule_run_finish(run=first, answer=None, error="boom")
    third = services.schedule_fire(schedule_id=every5.pk, now=at(2026, 5, 1, 9, 10, 1))
    assert third.status == ScheduleRun.Status.RUNNING


def test_a_run_left_running_by_a_dead_worker_does_not_block_forever(every5, settings):
    # Celery kills a task at CELERY_TASK_TIME_LIMIT: a run still "running" after that lost its worker.
    assert settings.CELERY_TASK_TIME_LIMIT + 60 < 600
    first = services.schedule_fire(schedule_id=every5.pk, now=at(2026, 5, 1, 9, 0, 1))
    nxt = services.schedule_fire(schedule_id=every5.pk, now=at(2026, 5, 1, 9, 10, 1))
    assert nxt.status == ScheduleRun.Status.RUNNING
    first.refresh_from_db()
    assert first.status == ScheduleRun.Status.FAILED and "stopped" in first.error


def test_a_duplicate_delivery_of_a_slot_records_nothing(hourly):
    services.schedule_fire(schedule_id=hourly.pk, now=at(2026, 5, 1, 9, 0, 1))
    assert services.schedule_fire(schedule_id=hourly.pk, now=at(2026, 5, 1, 9, 0, 40)) is None
    assert ScheduleRun.objects.filter(schedule=hourly).count() == 1


def test_missed_deliveries_that_piled_up_run_once(hourly, agent):
    # beat sent three deliveries while no worker ran (slots 07:00, 08:00, 09:00 local + 1h);
    # the worker takes them at 09:20: one run, for the newest slot.
    now = at(2026, 5, 1, 9, 20)
    results = [
        services.schedule_fire(schedule_id=hourly.pk, now=now + dt.timedelta(seconds=i)) for i in range(3)
    ]
    assert [r is not None for r in results] == [True, False, False]
    assert results[0].planned_for == at(2026, 5, 1, 9)
    every = ScheduleFactory(agent=agent, name="every 10 min", kind="interval", cron="", interval_seconds=600)
    results = [
        services.schedule_fire(schedule_id=every.pk, now=now + dt.timedelta(seconds=i)) for i in range(3)
    ]
    assert [r is not None for r in results] == [True, False, False]
    services.schedule_run_finish(run=results[0], answer=None, error="x")
    assert services.schedule_fire(schedule_id=every.pk, now=now + dt.timedelta(seconds=600)) is not None


def test_a_disabled_schedule_records_no_run(hourly):
    services.schedule_disable(schedule=hourly)
    assert services.schedule_fire(schedule_id=hourly.pk, now=at(2026, 5, 1, 9, 0, 1)) is None
    assert not ScheduleRun.objects.exists()


def test_a_paused_agent_records_no_run(hourly, agent):
    agent_update(agent=agent, status=Agent.Status.PAUSED)
    assert services.schedule_fire(schedule_id=hourly.pk, now=at(2026, 5, 1, 9, 0, 1)) is None
    assert not ScheduleRun.objects.exists()
    hourly.refresh_from_db()
    assert hourly.next_run_at == at(2026, 5, 1, 10)  # still shows when it would run next


def test_a_deleted_schedule_records_no_run(hourly):
    schedule_id = hourly.pk
    services.schedule_delete(schedule=hourly)
    assert services.schedule_fire(schedule_id=schedule_id) is None


def test_a_one_off_runs_once_and_is_then_used_up(agent):
    when = in_future(minutes=10)
    once = ScheduleFactory(agent=agent, kind="once", cron="", run_at=when)
    run = services.schedule_fire(schedule_id=once.pk, now=when + dt.timedelta(seconds=1))
    assert run.status == ScheduleRun.Status.RUNNING and run.planned_for == when
    once.refresh_from_db()
    assert not once.enabled and once.next_run_at is None
    assert not PeriodicTask.objects.get(pk=once.periodic_task_id).enabled
    assert services.schedule_fire(schedule_id=once.pk, now=when + dt.timedelta(seconds=5)) is None


def test_run_finish_records_the_answer_or_the_error(hourly):
    run = services.schedule_fire(schedule_id=hourly.pk, now=at(2026, 5, 1, 9, 0, 1))
    answer = Message.objects.create(
        conversation=run.conversation, role="assistant", content="Done.", status=Message.Status.COMPLETED
    )
    run = services.schedule_run_finish(run=run, answer=answer)
    assert (run.status, run.message_id, run.error) == ("completed", answer.pk, "")
    assert run.finished_at is not None
    run2 = services.schedule_fire(schedule_id=hourly.pk, now=at(2026, 5, 1, 10, 0, 1))
    failed = Message.objects.create(
        conversation=run2.conversation, role="assistant", status=Message.Status.FAILED, error="model crashed"
    )
    run2 = services.schedule_run_finish(run=run2, answer=failed)
    assert (run2.status, run2.message_id, run2.error) == ("failed", failed.pk, "model crashed")


# --- run-now ----------------------------------------------------------------------------------


def test_run_now_queues_after_commit_and_a_worker_claims_it(
    hourly, owner, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = services.schedule_run_now(schedule=hourly, requested_by=owner)
    assert run.status == ScheduleRun.Status.QUEUED and run.trigger == "manual" and len(callbacks) == 1
    claimed = services.schedule_run_claim(run_id=run.pk)
    assert claimed.status == ScheduleRun.Status.RUNNING and claimed.conversation_id is not None
    assert services.schedule_run_claim(run_id=run.pk) is None  # only once


def test_run_now_works_on_a_disabled_schedule(hourly, owner, django_capture_on_commit_callbacks):
    services.schedule_disable(schedule=hourly)
    with django_capture_on_commit_callbacks(execute=False):
        run = services.schedule_run_now(schedule=Schedule.objects.get(pk=hourly.pk), requested_by=owner)
    assert run.status == ScheduleRun.Status.QUEUED


def test_run_now_conflicts(hourly, owner, agent, django_capture_on_commit_callbacks):
    services.schedule_fire(schedule_id=hourly.pk, now=timezone.now())
    with pytest.raises(services.RunConflict) as exc:
        services.schedule_run_now(schedule=hourly, requested_by=owner)
    assert exc.value.get_codes() == "run_in_progress"
    ScheduleRun.objects.update(status="completed")
    agent_update(agent=agent, status=Agent.Status.PAUSED)
    with pytest.raises(services.RunConflict) as exc:
        services.schedule_run_now(schedule=hourly, requested_by=owner)
    assert exc.value.get_codes() == "agent_paused"


def test_a_claim_while_a_beat_run_is_running_is_skipped(hourly, owner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        run = services.schedule_run_now(schedule=hourly, requested_by=owner)
    services.schedule_fire(schedule_id=hourly.pk, now=timezone.now())
    claimed = services.schedule_run_claim(run_id=run.pk)
    assert claimed.status == ScheduleRun.Status.SKIPPED


def test_runs_older_than_the_retention_are_pruned_when_the_schedule_runs(hourly, settings):
    settings.SCHEDULES_RUN_RETENTION_DAYS = 30
    old = services.schedule_fire(schedule_id=hourly.pk, now=at(2026, 1, 1, 9, 0, 1))
    services.schedule_run_finish(run=old, answer=None, error="x")
    recent = services.schedule_fire(schedule_id=hourly.pk, now=at(2026, 4, 30, 9, 0, 1))
    services.schedule_run_finish(run=recent, answer=None, error="x")
    ScheduleRun.objects.filter(pk=old.pk).update(created_at=at(2026, 1, 1, 9))
    ScheduleRun.objects.filter(pk=recent.pk).update(created_at=at(2026, 4, 30, 9))
    services.schedule_fire(schedule_id=hourly.pk, now=at(2026, 5, 1, 9, 0, 1))
    assert not ScheduleRun.objects.filter(pk=old.pk).exists()
    assert ScheduleRun.objects.filter(pk=recent.pk).exists()
    settings.SCHEDULES_RUN_RETENTION_DAYS = 0  # keep everything
    ScheduleRun.objects.filter(pk=recent.pk).update(created_at=at(2025, 1, 1))
    ScheduleRun.objects.exclude(pk=recent.pk).update(status="completed")
    services.schedule_fire(schedule_id=hourly.pk, now=at(2026, 5, 1, 10, 0, 1))
    assert ScheduleRun.objects.filter(pk=recent.pk).exists()
