"""Schedule timing: cron parsing and description, time zones, and the next run in UTC.

Cron expressions are parsed by Celery's own crontab parser, the one beat uses, so that an
expression accepted here is one beat can run, with beat's meaning:

- five fields: minute hour day-of-month month day-of-week (0 or `sun` is Sunday, 0-6);
- when both day-of-month and day-of-week are restricted, BOTH must match (Celery's rule;
  classic Vixie cron ORs them);
- wall-clock times in the schedule's time zone. On a daylight-saving change day a local
  time that does not exist (spring forward) runs once, shifted by the gap (02:30 in a
  02:00→03:00 gap runs at 03:30), and a local time that happens twice (fall back) runs
  once, at its first occurrence. This is what django-celery-beat's TzAwareCrontab does;
  `scheduling/tests/test_timing.py` checks the two agree on DST days.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from celery.schedules import crontab
from cron_descriptor import Options, get_description

UTC = dt.UTC

# A cron expression that matches nothing in this many years (e.g. "0 0 30 2 *") is refused.
CRON_HORIZON_DAYS = 8 * 366
_DST_SLACK = dt.timedelta(hours=3)
# A cron slot counts as "now" this early: the worker's clock may lag beat's by a little. Kept small: a
# delivery this close to the NEXT slot is taken for that slot.
CLOCK_TOLERANCE = dt.timedelta(seconds=5)


class TimingError(ValueError):
    """Bad timing input; `field` names the API field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class CronSpec:
    expression: str  # normalised: single spaces
    minute: str
    hour: str
    day_of_month: str
    month_of_year: str
    day_of_week: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int]
    months: frozenset[int]
    days_of_week: frozenset[int]  # 0 = Sunday


def parse_cron(expression: str) -> CronSpec:
    """Parse a five-field cron expression the way Celery beat will. Raises TimingError("cron")."""
    fields = (expression or "").split()
    if len(fields) != 5:
        raise TimingError(
            "cron",
            "A cron expression has five fields: minute hour day-of-month month day-of-week "
            f"(got {len(fields)}).",
        )
    minute, hour, dom, month, dow = fields
    try:
        parsed = crontab(minute=minute, hour=hour, day_of_month=dom, month_of_year=month, day_of_week=dow)
    except (ValueError, TypeError, IndexError) as exc:
        raise TimingError("cron", f"Not a valid cron expression: {exc}") from None
    return CronSpec(
        expression=" ".join(fields),
        minute=minute,
        hour=hour,
        day_of_month=dom,
        month_of_year=month,
        day_of_week=dow,
        minutes=frozenset(parsed.minute),
        hours=frozenset(parsed.hour),
        days_of_month=frozenset(parsed.day_of_month),
        months=frozenset(parsed.month_of_year),
        days_of_week=frozenset(parsed.day_of_week),
    )


def describe_cron(expression: str) -> str:
    """A human reading ("At 09:00, Monday through Friday"), from cron-descriptor."""
    options = Options()
    options.use_24hour_time_format = True
    options.verbose = True
    try:
        return get_description(expression, options)
    except Exception:  # cron-descriptor refuses a few forms Celery accepts; fall back
        return expression


def get_zone(name: str) -> ZoneInfo:
    """An IANA time zone. Raises TimingError("timezone")."""
    if not name or name not in _zone_names():
        raise TimingError("timezone", f"Unknown time zone {name!r}: use an IANA name like 'Europe/Berlin'.")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise TimingError("timezone", f"Unknown time zone {name!r}.") from None


_ZONES: frozenset[str] | None = None


def _zone_names() -> frozenset[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = frozenset(available_timezones()) | {"UTC"}
    return _ZONES


def _wall_to_utc(naive: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    # fold=0: a repeated local time means its first occurrence; a missing one (in a gap) is
    # read with the offset before the change, i.e. shifted forward by the gap.
    return naive.replace(tzinfo=zone, fold=0).astimezone(UTC)


def _day_matches(spec: CronSpec, day: dt.date) -> bool:
    return (
        day.month in spec.months
        and day.day in spec.days_of_month
        and (day.weekday() + 1) % 7 in spec.days_of_week
    )


def cron_next_after(spec: CronSpec, zone: ZoneInfo, after: dt.datetime) -> dt.datetime | None:
    """The first cron slot strictly after `after` (aware), in UTC; None if none in the horizon."""
    after = after.astimezone(UTC)
    after_wall = after.astimezone(zone).replace(tzinfo=None)
    # Wall time maps to UTC in order except across a DST change (at most a few hours), so
    # candidates are looked at from a little before `after`, and a few hours past the first hit.
    skip_before = after_wall - _DST_SLACK
    times = sorted(dt.time(h, m) for h in spec.hours for m in spec.minutes)
    day = skip_before.date()
    best: dt.datetime | None = None
    stop_at: dt.datetime | None = None
    for _ in range(CRON_HORIZON_DAYS + 2):
        if _day_matches(spec, day):
            for t in times:
                wall = dt.datetime.combine(day, t)
                if wall < skip_before:
                    continue
                if stop_at is not None and wall > stop_at:
                    return best
                at = _wall_to_utc(wall, zone)
                if at > after and (best is None or at < best):
                    best = at
                    stop_at = stop_at or wall + _DST_SLACK
        if stop_at is not None and dt.datetime.combine(day, dt.time.max) >= stop_at:
            return best
        day += dt.timedelta(days=1)
    return best


def cron_latest_at_or_before(spec: CronSpec, zone: ZoneInfo, moment: dt.datetime) -> dt.datetime | None:
    """The newest cron slot at or before `moment`, within the last 8 days (else None)."""
    moment = moment.astimezone(UTC)
    day = moment.astimezone(zone).date() + dt.timedelta(days=1)
    times = sorted(dt.time(h, m) for h in spec.hours for m in spec.minutes)
    for _ in range(9):
        if _day_matches(spec, day):
            best = None
            for t in times:
                at = _wall_to_utc(dt.datetime.combine(day, t), zone)
                if at <= moment and (best is None or at > best):
                    best = at
            if best is not None:
                return best
        day -= dt.timedelta(days=1)
    return None


def next_run(
    *,
    kind: str,
    after: dt.datetime,
    cron: str = "",
    timezone: str = "UTC",
    interval_seconds: int | None = None,
    run_at: dt.datetime | None = None,
    last_run_at: dt.datetime | None = None,
) -> dt.datetime | None:
    """When a schedule runs next after `after`, in UTC; None when it never will again.

    - cron: the next slot (see the module docstring for DST days);
    - interval: `interval_seconds` after the last run, or after `after` when it never ran
      (beat counts an interval from the moment it last sent the task, or from when the
      entry was saved);
    - once: `run_at` if it is still ahead, else None.
    """
    if kind == "cron":
        return cron_next_after(parse_cron(cron), get_zone(timezone), after)
    if kind == "interval":
        if not interval_seconds:
            return None
        base = last_run_at or after
        nxt = base + dt.timedelta(seconds=interval_seconds)
        while nxt <= after:
            nxt += dt.timedelta(seconds=interval_seconds)
        return nxt.astimezone(UTC)
    if kind == "once":
        if run_at is None or run_at <= after:
            return None
        return run_at.astimezone(UTC)
    raise ValueError(f"unknown schedule kind {kind!r}")
