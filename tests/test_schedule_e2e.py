"""End to end: a REAL `celery beat` (the platform's DatabaseScheduler), a real default worker and
the real inference worker. A schedule made due in a few seconds, by an edit made while beat
runs, fires; the agent answers through the chat pipeline; the run is recorded completed.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

BASE_DIR = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]


class Beat:
    def __init__(self, process: subprocess.Popen, log_path: Path) -> None:
        self.process = process
        self.log_path = log_path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def start_beat() -> Beat:
    """`celery beat` on the test database and this run's Redis DB (TEST_REDIS_DB is inherited),
    with the scheduler of the settings (scheduling.scheduler.PlatformScheduler)."""
    workdir = Path(tempfile.mkdtemp(prefix="beat-"))
    log_path = workdir / "beat.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "platform_site.settings.test",
        "DJANGO_DATABASE_NAME": connection.settings_dict["NAME"],
        "PYTHONUNBUFFERED": "1",
    }
    command = [
        sys.executable, "-m", "celery", "-A", "platform_site", "beat", "--loglevel", "DEBUG",
        "--pidfile", str(workdir / "beat.pid"), "--schedule", str(workdir / "beat-schedule"),
    ]  # fmt: skip
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            command, cwd=BASE_DIR, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
    started = Beat(process, log_path)
    deadline = time.monotonic() + 60
    while "DatabaseScheduler: initial read" not in started.log():
        if process.poll() is not None or time.monotonic() > deadline:
            started.stop()
            raise RuntimeError(f"celery beat did not start:\n{started.log()[-4000:]}")
        time.sleep(0.2)
    return started


@pytest.fixture
def beat(db) -> Iterator[Beat]:
    started = start_beat()
    yield started
    started.stop()


def wait_for_runs(schedule, *, count: int = 1, timeout: float = 180) -> list:
    """The schedule's runs once `count` of them are finished (or at the timeout)."""
    from scheduling.models import ScheduleRun

    deadline = time.monotonic() + timeout
    while True:
        runs = list(ScheduleRun.objects.filter(schedule=schedule).order_by("created_at"))
        done = [r for r in runs if r.status in ("completed", "failed", "skipped")]
        if len(done) >= count or time.monotonic() > deadline:
            return runs
        time.sleep(0.5)


def test_a_due_schedule_fires_and_the_agent_answers(inference_worker, default_worker, beat, project, owner):
    from agents.models import Message
    from agents.services import tool_registry_sync
    from agents.tests.factories import AgentFactory
    from scheduling import services
    from scheduling.models import ScheduleRun
    from scheduling.tests.factories import ScheduleFactory

    tool_registry_sync()
    agent = AgentFactory(project=project, name="Reporter", max_tokens=16, tool_choice="none")
    # Made while beat is running, first for tomorrow, then edited to be due in a few seconds:
    # beat must pick up both the new task and the edit without a restart.
    schedule = ScheduleFactory(
        agent=agent,
        project=project,
        created_by=owner,
        name="Soon",
        kind="once",
        cron="",
        run_at=timezone.now() + dt.timedelta(days=1),
        message="Say hello in three words.",
    )
    started = time.monotonic()
    due = timezone.now() + dt.timedelta(seconds=6)
    services.schedule_update(schedule=schedule, run_at=due)

    runs = wait_for_runs(schedule)
    elapsed = time.monotonic() - started
    run = runs[0] if runs else None
    assert run is not None, (
        f"no run recorded.\nbeat log:\n{beat.log()[-3000:]}\nworker log:\n{default_worker.log()[-3000:]}"
    )
    assert run.status == "completed", (run.status, run.error, default_worker.log()[-3000:])
    print(f"\nschedule e2e: due in 6 s, run completed {elapsed:.1f} s after the edit")

    assert run.trigger == "beat" and run.planned_for == due
    assert run.started_at >= due - dt.timedelta(seconds=1)  # not before it was due
    assert run.finished_at >= run.started_at
    schedule.refresh_from_db()
    assert run.conversation_id == schedule.conversation_id
    answer = Message.objects.get(pk=run.message_id)
    assert answer.role == "assistant" and answer.status == "completed" and answer.content.strip()
    assert answer.conversation_id == schedule.conversation_id
    inbound = Message.objects.filter(conversation_id=schedule.conversation_id, role="user").get()
    assert inbound.sender_system == "system:scheduler" and inbound.content == "Say hello in three words."
    # a one-off is used up: disabled, no next run, its beat entry disabled; it ran exactly once
    assert not schedule.enabled and schedule.next_run_at is None
    time.sleep(6)  # one more beat loop: nothing fires again
    assert ScheduleRun.objects.filter(schedule=schedule).count() == 1
    assert not schedule.periodic_task.__class__.objects.get(pk=schedule.periodic_task_id).enabled


def test_run_now_goes_through_a_real_worker_and_the_agent_answers(
    inference_worker, default_worker, api_client, project, owner
):
    from agents.services import tool_registry_sync
    from agents.tests.factories import AgentFactory
    from scheduling.models import ScheduleRun
    from scheduling.tests.factories import ScheduleFactory

    tool_registry_sync()
    agent = AgentFactory(project=project, name="Reporter", max_tokens=16, tool_choice="none")
    schedule = ScheduleFactory(agent=agent, project=project, created_by=owner, name="Daily", cron="0 9 * * *")
    response = api_client(owner).post(f"/api/projects/{project.pk}/schedules/{schedule.pk}/run-now/")
    assert response.status_code == 202, response.json()
    run_id = response.json()["id"]
    deadline = time.monotonic() + 180
    run = ScheduleRun.objects.get(pk=run_id)
    while run.status in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.5)
        run.refresh_from_db()
    assert run.status == "completed", (run.status, run.error, default_worker.log()[-3000:])
    print(
        f"\nrun-now e2e: picked up after {(run.started_at - run.created_at).total_seconds():.1f} s, "
        f"answered in {(run.finished_at - run.started_at).total_seconds():.1f} s"
    )
    assert run.trigger == "manual" and run.message.content.strip()
    runs = (
        api_client(owner).get(f"/api/projects/{project.pk}/schedules/{schedule.pk}/runs/").json()["results"]
    )
    assert runs[0]["id"] == run_id and runs[0]["answer"] == run.message.content


def test_a_cron_run_missed_while_beat_was_down_runs_once_when_beat_starts(
    inference_worker, default_worker, project, owner
):
    """Beat was down for three days; the schedule's hour is far from now (stock
    DatabaseScheduler would leave it out until two hours before tomorrow's slot). At start,
    it runs once, for the newest missed slot, not three times."""
    from django_celery_beat.models import PeriodicTask

    from agents.services import tool_registry_sync
    from agents.tests.factories import AgentFactory
    from scheduling import timing
    from scheduling.tests.factories import ScheduleFactory

    tool_registry_sync()
    agent = AgentFactory(project=project, name="Reporter", max_tokens=16, tool_choice="none")
    far_hour = (timezone.now().hour + 12) % 24
    schedule = ScheduleFactory(
        agent=agent, project=project, created_by=owner, name="Nightly", cron=f"0 {far_hour} * * *"
    )
    PeriodicTask.objects.filter(pk=schedule.periodic_task_id).update(
        last_run_at=timezone.now() - dt.timedelta(days=3)
    )
    missed_slot = timing.cron_latest_at_or_before(
        timing.parse_cron(schedule.cron), timing.get_zone("UTC"), timezone.now()
    )
    started = start_beat()
    try:
        runs = wait_for_runs(schedule)
        assert [r.status for r in runs] == ["completed"], (
            [(r.status, r.error) for r in runs],
            started.log()[-3000:],
        )
        assert runs[0].planned_for == missed_slot
        time.sleep(7)  # more than one beat loop: the other missed slots are not replayed
        assert len(wait_for_runs(schedule, timeout=0)) == 1
        assert started.log().count(f"Sending due task {schedule.periodic_task.name}") == 1
    finally:
        started.stop()
