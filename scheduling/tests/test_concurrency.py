"""Two deliveries at once, in two database connections: the row lock makes one run and
records the other as skipped (never two running runs)."""

import datetime as dt
import threading

import pytest
from django.db import connection

from scheduling import services
from scheduling.models import ScheduleRun
from scheduling.tests.factories import ScheduleFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_deliveries_of_two_slots_run_one_and_skip_the_other(agent):
    schedule = ScheduleFactory(agent=agent, name="Every minute", cron="* * * * *")
    base = dt.datetime(2026, 5, 1, 9, 0, 1, tzinfo=dt.UTC)
    barrier = threading.Barrier(2)
    results: list = []

    def deliver(minute: int) -> None:
        try:
            barrier.wait()
            results.append(
                services.schedule_fire(schedule_id=schedule.pk, now=base + dt.timedelta(minutes=minute))
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver, args=(m,)) for m in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(r.status for r in results) == ["running", "skipped"]
    assert ScheduleRun.objects.filter(schedule=schedule, status="running").count() == 1
