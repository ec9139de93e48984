"""Cron parsing and description, time zones, and next runs in UTC, DST change days included."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django_celery_beat.tzcrontab import TzAwareCrontab

from scheduling import timing

UTC = dt.UTC


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize(
    "expression",
    ["0 9 * * 1-5", "*/15 * * * *", "30 2 1,15 * *", "0 0 * * sun", "5 4 * 1-6 mon-fri", "  0   9 * * *  "],
)
def test_valid_cron_expressions_parse(expression):
    spec = timing.parse_cron(expression)
    assert spec.expression == " ".join(expression.split())


@pytest.mark.parametrize(
    "expression",
    ["", "0 9 * *", "0 9 * * * *", "61 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "*/0 * * * *",
     "a b c d e", "0 0 30 2 *"],
)  # fmt: skip
def test_invalid_cron_expressions_name_the_cron_field(expression):
    with pytest.raises(timing.TimingError) as exc:
        timing.parse_cron(expression)
    assert exc.value.field == "cron"


def test_cron_description_is_human():
    assert "09:00" in timing.describe_cron("0 9 * * 1-5")
    assert "Monday through Friday" in timing.describe_cron("0 9 * * 1-5")
    assert "15 minutes" in timing.describe_cron("*/15 * * * *")


@pytest.mark.parametrize("name", ["Europe/Berlin", "America/New_York", "UTC", "Asia/Kolkata"])
def test_known_time_zones(name):
    assert timing.get_zone(name).key == name


@pytest.mark.parametrize("name", ["", "Mars/Olympus", "europe/berlin ", "CEST+2", "../etc/passwd"])
def test_unknown_time_zones_name_the_timezone_field(name):
    with pytest.raises(timing.TimingError) as exc:
        timing.get_zone(name)
    assert exc.value.field == "timezone"


def nxt(expression, zone, after):
    return timing.cron_next_after(timing.parse_cron(expression), ZoneInfo(zone), after)


def test_wall_clock_times_follow_the_zone_across_dst():
    # 09:00 in Berlin is 08:00 UTC in winter and 07:00 UTC in summer (change: 2026-03-29).
    assert nxt("0 9 * * *", "Europe/Berlin", utc(2026, 3, 28, 12)) == utc(2026, 3, 29, 7)
    assert nxt("0 9 * * *", "Europe/Berlin", utc(2026, 3, 27, 12)) == utc(2026, 3, 28, 8)
    # and back on 2026-10-25
    assert nxt("0 9 * * *", "Europe/Berlin", utc(2026, 10, 24, 12)) == utc(2026, 10, 25, 8)
    # New York changes on 2026-03-08: 09:00 EDT is 13:00 UTC
    assert nxt("0 9 * * *", "America/New_York", utc(2026, 3, 8, 0)) == utc(2026, 3, 8, 13)


def test_spring_forward_a_missing_local_time_runs_once_shifted_by_the_gap():
    # Berlin 2026-03-29: 02:00 → 03:00 local. "30 2" runs at 03:30 CEST = 01:30 UTC, once.
    first = nxt("30 2 * * *", "Europe/Berlin", utc(2026, 3, 28, 12))
    assert first == utc(2026, 3, 29, 1, 30)
    assert nxt("30 2 * * *", "Europe/Berlin", first) == utc(2026, 3, 30, 0, 30)  # 02:30 CEST


def test_fall_back_a_repeated_local_time_runs_once_at_its_first_occurrence():
    # Berlin 2026-10-25: 03:00 CEST → 02:00 CET; 02:30 happens at 00:30 and 01:30 UTC.
    first = nxt("30 2 * * *", "Europe/Berlin", utc(2026, 10, 24, 12))
    assert first == utc(2026, 10, 25, 0, 30)
    assert nxt("30 2 * * *", "Europe/Berlin", first) == utc(2026, 10, 26, 1, 30)  # not 01:30 the same day


def test_hourly_on_the_fall_back_day_does_not_repeat_the_hour():
    runs, after = [], utc(2026, 10, 24, 22)
    for _ in range(6):
        after = nxt("0 * * * *", "Europe/Berlin", after)
        runs.append(after)
    # local 01:00 CEST, 02:00 CEST, (02:00 CET skipped), 03:00 CET, ...
    assert runs == [utc(2026, 10, 24, 23), utc(2026, 10, 25, 0), utc(2026, 10, 25, 2), utc(2026, 10, 25, 3),
                    utc(2026, 10, 25, 4), utc(2026, 10, 25, 5)]  # fmt: skip


def test_day_of_month_and_day_of_week_are_both_required_as_in_celery():
    # "the 13th, if a Friday": 2026-02-13 is the first Friday the 13th of 2026.
    assert nxt("0 9 13 * 5", "UTC", utc(2026, 1, 1)) == utc(2026, 2, 13, 9)


def _beat_fires_at(expression: str, zone: str, last_run_at: dt.datetime) -> dt.datetime | None:
    """When django-celery-beat's TzAwareCrontab first says "due" after `last_run_at`, by the minute."""
    minute, hour, dom, month, dow = expression.split()
    tz = ZoneInfo(zone)
    entry = TzAwareCrontab(
        minute=minute, hour=hour, day_of_month=dom, month_of_year=month, day_of_week=dow, tz=tz
    )
    t = last_run_at.replace(second=0, microsecond=0)
    for _ in range(3 * 24 * 60):
        t += dt.timedelta(minutes=1)
        entry.nowfun = lambda t=t: t.astimezone(tz)
        if entry.is_due(last_run_at.astimezone(tz))[0]:
            return t
    return None


DST_STARTS = [utc(2026, 3, 7, 12), utc(2026, 3, 28, 12), utc(2026, 10, 3, 12), utc(2026, 10, 24, 12),
              utc(2026, 10, 31, 12), utc(2026, 4, 4, 6)]  # fmt: skip


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe"])
@pytest.mark.parametrize("expression", ["30 2 * * *", "0 * * * *", "15,45 1-3 * * *", "*/20 0-4 * * *"])
@pytest.mark.parametrize("start", DST_STARTS)
def test_the_next_run_shown_is_when_beat_fires_on_dst_days(zone, expression, start):
    """Our next_run_at agrees with beat's own crontab for the next runs around DST changes
    (Lord Howe changes by 30 minutes)."""
    last = start
    for _ in range(4):
        ours = nxt(expression, zone, last)
        assert ours == _beat_fires_at(expression, zone, last), (zone, expression, last)
        last = ours


def test_interval_and_once_next_runs():
    now = utc(2026, 5, 1, 12)
    assert timing.next_run(kind="interval", after=now, interval_seconds=300) == utc(2026, 5, 1, 12, 5)
    assert timing.next_run(
        kind="interval", after=now, interval_seconds=300, last_run_at=utc(2026, 5, 1, 11, 58)
    ) == utc(2026, 5, 1, 12, 3)
    assert timing.next_run(kind="once", after=now, run_at=utc(2026, 5, 2)) == utc(2026, 5, 2)
    assert timing.next_run(kind="once", after=now, run_at=utc(2026, 5, 1)) is None


def test_latest_slot_at_or_before():
    spec = timing.parse_cron("0 9 * * *")
    zone = ZoneInfo("Europe/Berlin")
    assert timing.cron_latest_at_or_before(spec, zone, utc(2026, 3, 29, 7, 0, 5)) == utc(2026, 3, 29, 7)
    assert timing.cron_latest_at_or_before(spec, zone, utc(2026, 3, 29, 6, 59)) == utc(2026, 3, 28, 8)
