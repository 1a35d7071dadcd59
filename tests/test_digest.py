# The tables of times read best one case a line.
# ruff: noqa: E501
"""Digest schedules: parsing, and the periods they cut time into, around midnight and DST.

Europe/Belgrade changes clocks on the last Sunday of March (02:00 CET -> 03:00 CEST) and of
October (03:00 CEST -> 02:00 CET); in 2026 those are 29 March and 25 October.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from balkanwatch.core.schedule import (
    DigestSchedule,
    last_due_period,
    next_fire,
    parse_schedule,
    period_containing,
)

BELGRADE = ZoneInfo("Europe/Belgrade")


def at(text: str) -> datetime:
    """An ISO time with its offset (which also picks the side of an autumn repeat)."""
    return datetime.fromisoformat(text)


def iso(moment: datetime) -> str:
    return moment.isoformat(sep=" ", timespec="minutes")


# -- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "crontab"),
    [
        ("hourly", "0 * * * *"),
        ("  Hourly ", "0 * * * *"),
        ("daily 08:00", "0 8 * * *"),
        ("daily 8:05", "5 8 * * *"),
        ("daily at 23:59", "59 23 * * *"),
        ("DAILY 00:00", "0 0 * * *"),
        ("*/30 * * * *", "*/30 * * * *"),
        ("0 8 * * 1-5", "0 8 * * 1-5"),
        ("0  8 * *   mon-fri", "0 8 * * mon-fri"),
        ("15 7,19 * jan-mar sun", "15 7,19 * jan-mar sun"),
        ("0 0 29 2 *", "0 0 29 2 *"),
        ("5/15 * * * *", "5/15 * * * *"),
        ("@daily", "0 0 * * *"),
        ("@weekly", "0 0 * * 0"),
    ],
)
def test_parse_schedule_accepts(spec: str, crontab: str) -> None:
    schedule = parse_schedule(spec)
    assert schedule is not None
    assert schedule.crontab == crontab
    assert str(schedule) == " ".join(spec.split())


@pytest.mark.parametrize("spec", [None, "", "   "])
def test_no_schedule_means_instant_alerts(spec: str | None) -> None:
    assert parse_schedule(spec) is None


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("weekly", 'expected "hourly", "daily HH:MM"'),
        ("daily", 'say when, e.g. "daily 08:00"'),
        ("daily 24:00", "24:00 is not a time of day"),
        ("daily 08:60", "08:60 is not a time of day"),
        ("daily 8am", "a cron expression has 5 fields"),
        ("* * * *", "this has 4"),
        ("0 0 * * * *", "this has 6"),
        ("60 * * * *", "minute field '60': 60 is outside 0-59"),
        ("0 24 * * *", "hour field '24': 24 is outside 0-23"),
        ("0 0 0 * *", "day of month field '0': 0 is outside 1-31"),
        ("0 0 * 13 *", "month field '13': 13 is outside 1-12"),
        ("0 8 * * 8", "day of week field '8': 8 is outside 0-7"),
        ("0 8 * * fri-mon", "the range runs backwards"),
        ("*/0 * * * *", "the step must be at least 1"),
        ("x * * * *", "'x' is not a number"),
        ("0 8 * * funday", "or a name (sun, mon, tue, wed, thu, fri, sat)"),
        ("0 8 * * 1#2", "not a value, range (a-b), list (a,b) or step (*/n)"),
        ("0 8 L * *", "is not a number"),
        ("0 0 30 2 *", "never fires"),
        ("0 0 31 4,6,9,11 *", "never fires"),
    ],
)
def test_parse_schedule_rejects_with_a_clear_message(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_schedule(spec)


def schedule(spec: str) -> DigestSchedule:
    parsed = parse_schedule(spec)
    assert parsed is not None
    return parsed


# -- periods ---------------------------------------------------------------------------------


# fmt: off
PERIODS = [
    # ordinary hours; a moment exactly on a firing opens the next period
    ("hourly", "2026-12-01 08:30+01:00", "2026-12-01 08:00+01:00", "2026-12-01 09:00+01:00"),
    ("hourly", "2026-12-01 09:00+01:00", "2026-12-01 09:00+01:00", "2026-12-01 10:00+01:00"),
    ("hourly", "2026-12-01 08:59:59.999999+01:00", "2026-12-01 08:00+01:00", "2026-12-01 09:00+01:00"),
    ("*/30 * * * *", "2026-12-01 08:45+01:00", "2026-12-01 08:30+01:00", "2026-12-01 09:00+01:00"),
    # a moment given in UTC is placed in the configured zone
    ("daily 08:00", "2026-12-01 06:59+00:00", "2026-11-30 08:00+01:00", "2026-12-01 08:00+01:00"),
    ("daily 08:00", "2026-12-01 07:00+00:00", "2026-12-01 08:00+01:00", "2026-12-02 08:00+01:00"),
    # around midnight and the new year
    ("daily 00:00", "2026-12-31 23:59:59+01:00", "2026-12-31 00:00+01:00", "2027-01-01 00:00+01:00"),
    ("daily 00:00", "2027-01-01 00:00+01:00", "2027-01-01 00:00+01:00", "2027-01-02 00:00+01:00"),
    ("hourly", "2026-12-31 23:30+01:00", "2026-12-31 23:00+01:00", "2027-01-01 00:00+01:00"),
    ("daily 23:30", "2026-12-02 00:10+01:00", "2026-12-01 23:30+01:00", "2026-12-02 23:30+01:00"),
    # weekdays count from Sunday = 0, as in crontab: Friday 08:00 to Monday 08:00
    ("0 8 * * 1-5", "2026-12-05 12:00+01:00", "2026-12-04 08:00+01:00", "2026-12-07 08:00+01:00"),
    ("0 8 * * 0", "2026-12-01 12:00+01:00", "2026-11-29 08:00+01:00", "2026-12-06 08:00+01:00"),
    ("0 8 * * 7", "2026-12-01 12:00+01:00", "2026-11-29 08:00+01:00", "2026-12-06 08:00+01:00"),
    # day-of-month OR day-of-week when both are restricted: the 1st, and every Monday
    ("0 8 1 * 1", "2026-12-01 12:00+01:00", "2026-12-01 08:00+01:00", "2026-12-07 08:00+01:00"),
    ("0 8 1 * 1", "2026-11-30 09:00+01:00", "2026-11-30 08:00+01:00", "2026-12-01 08:00+01:00"),
    # ... but AND when one starts with '*' (Vixie cron): odd days that are Mondays
    ("0 8 */2 * 1", "2026-12-01 12:00+01:00", "2026-11-23 08:00+01:00", "2026-12-07 08:00+01:00"),
    # spring forward: 02:00 CET is 03:00 CEST, the 02:00 hour does not exist
    ("hourly", "2026-03-29 01:30+01:00", "2026-03-29 01:00+01:00", "2026-03-29 03:00+02:00"),
    ("hourly", "2026-03-29 03:30+02:00", "2026-03-29 03:00+02:00", "2026-03-29 04:00+02:00"),
    ("daily 08:00", "2026-03-29 07:00+02:00", "2026-03-28 08:00+01:00", "2026-03-29 08:00+02:00"),
    # a daily time that does not exist that day fires when the clock has jumped past it
    ("daily 02:30", "2026-03-29 02:00+00:00", "2026-03-29 03:30+02:00", "2026-03-30 02:30+02:00"),
    # fall back: 02:00-03:00 happens twice, first in CEST then in CET; both hours fire
    ("hourly", "2026-10-25 02:30+02:00", "2026-10-25 02:00+02:00", "2026-10-25 02:00+01:00"),
    ("hourly", "2026-10-25 02:30+01:00", "2026-10-25 02:00+01:00", "2026-10-25 03:00+01:00"),
    ("*/30 * * * *", "2026-10-25 02:45+02:00", "2026-10-25 02:30+02:00", "2026-10-25 02:00+01:00"),
    ("daily 08:00", "2026-10-25 07:00+01:00", "2026-10-24 08:00+02:00", "2026-10-25 08:00+01:00"),
    # rare firings are found far back
    ("0 0 29 2 *", "2026-06-01 00:00+02:00", "2024-02-29 00:00+01:00", "2028-02-29 00:00+01:00"),
]
# fmt: on


@pytest.mark.parametrize(("spec", "moment", "start", "end"), PERIODS)
def test_period_containing(spec: str, moment: str, start: str, end: str) -> None:
    got = period_containing(schedule(spec), at(moment), BELGRADE)
    assert (iso(got[0]), iso(got[1])) == (start, end)
    assert got[0].tzinfo == BELGRADE and got[1].tzinfo == BELGRADE


# fmt: off
DUE = [
    # the daemon fires on time: the period that has just ended
    ("hourly", "2026-12-01 09:00+01:00", "2026-12-01 08:00+01:00", "2026-12-01 09:00+01:00"),
    ("hourly", "2026-12-01 09:00:05+01:00", "2026-12-01 08:00+01:00", "2026-12-01 09:00+01:00"),
    # just before a firing, the previous period is still the last one ended
    ("hourly", "2026-12-01 08:59:59+01:00", "2026-12-01 07:00+01:00", "2026-12-01 08:00+01:00"),
    ("daily 08:00", "2026-12-01 08:00+01:00", "2026-11-30 08:00+01:00", "2026-12-01 08:00+01:00"),
    ("daily 00:00", "2027-01-01 00:00:30+01:00", "2026-12-31 00:00+01:00", "2027-01-01 00:00+01:00"),
    ("0 8 * * 1-5", "2026-12-07 08:00+01:00", "2026-12-04 08:00+01:00", "2026-12-07 08:00+01:00"),
    # a 23-hour day and a 25-hour day
    ("daily 08:00", "2026-03-29 08:00+02:00", "2026-03-28 08:00+01:00", "2026-03-29 08:00+02:00"),
    ("daily 08:00", "2026-10-25 08:00+01:00", "2026-10-24 08:00+02:00", "2026-10-25 08:00+01:00"),
    ("hourly", "2026-03-29 03:00+02:00", "2026-03-29 01:00+01:00", "2026-03-29 03:00+02:00"),
    ("hourly", "2026-10-25 02:00+01:00", "2026-10-25 02:00+02:00", "2026-10-25 02:00+01:00"),
    ("hourly", "2026-10-25 03:00+01:00", "2026-10-25 02:00+01:00", "2026-10-25 03:00+01:00"),
]
# fmt: on


@pytest.mark.parametrize(("spec", "now", "start", "end"), DUE)
def test_last_due_period(spec: str, now: str, start: str, end: str) -> None:
    got = last_due_period(schedule(spec), at(now), BELGRADE)
    assert (iso(got[0]), iso(got[1])) == (start, end)


# fmt: off
NEXT = [
    ("hourly", "2026-12-01 08:00+01:00", "2026-12-01 09:00+01:00"),
    ("hourly", "2026-12-01 07:59:59.5+01:00", "2026-12-01 08:00+01:00"),
    ("daily 08:00", "2026-03-28 09:00+01:00", "2026-03-29 08:00+02:00"),
    ("0 8 * * 1-5", "2026-12-04 08:00+01:00", "2026-12-07 08:00+01:00"),
]
# fmt: on


@pytest.mark.parametrize(("spec", "after", "expected"), NEXT)
def test_next_fire(spec: str, after: str, expected: str) -> None:
    assert iso(next_fire(schedule(spec), at(after), BELGRADE)) == expected


def test_the_configured_zone_decides_the_hour() -> None:
    daily = schedule("daily 08:00")
    moment = at("2026-12-01 12:00+00:00")
    assert iso(period_containing(daily, moment, ZoneInfo("UTC"))[0]) == "2026-12-01 08:00+00:00"
    tokyo = period_containing(daily, moment, ZoneInfo("Asia/Tokyo"))
    assert iso(tokyo[0]) == "2026-12-01 08:00+09:00"


@pytest.mark.parametrize("function", [period_containing, last_due_period, next_fire])
def test_naive_moments_are_refused(function) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="timezone-aware"):
        function(schedule("hourly"), datetime(2026, 12, 1, 8, 0), BELGRADE)


# -- the periods agree with the daemon's trigger, minute by minute ---------------------------


def firings(spec: str, start: datetime, end: datetime) -> list[datetime]:
    """Every firing of the trigger the daemon schedules, stepping forward as APScheduler does,
    in UTC: Python compares two times of one ZoneInfo zone by wall clock, blind to DST folds."""
    trigger = schedule(spec).trigger(BELGRADE)
    found, moment = [], start.astimezone(UTC)
    while (fire := trigger.get_next_fire_time(None, moment)) and fire <= end:
        found.append(fire.astimezone(UTC))
        moment = found[-1] + timedelta(seconds=1)
    return found


def utc(period: tuple[datetime, datetime]) -> tuple[datetime, datetime]:
    return period[0].astimezone(UTC), period[1].astimezone(UTC)


@pytest.mark.parametrize(
    ("spec", "day"),
    [
        ("hourly", "2026-03-28 23:00+01:00"),
        ("hourly", "2026-10-24 23:00+02:00"),
        ("*/20 * * * *", "2026-10-25 01:00+02:00"),
        ("30 2 * * *", "2026-10-24 00:00+02:00"),
        ("0 8 * * 1-5", "2026-12-01 00:00+01:00"),
        ("0 8 1 * 1", "2026-11-25 00:00+01:00"),
        ("45 23 * * *", "2026-12-30 00:00+01:00"),
    ],
)
def test_periods_match_an_exhaustive_walk(spec: str, day: str) -> None:
    """For moments every few minutes over a stretch (and on each firing), the period is the
    latest firing at or before the moment and the first one after it."""
    start = at(day).astimezone(UTC)
    days, every = (8, 61) if spec.startswith("0 8") else (1, 7)
    window_end = start + timedelta(days=days)
    fires = firings(spec, start - timedelta(days=15), window_end + timedelta(days=15))
    steps = int((window_end - start) / timedelta(minutes=every))
    moments = [start + timedelta(minutes=every * i) for i in range(steps)]
    moments += [f for f in fires if start <= f <= window_end]
    for moment in moments:
        latest = max(f for f in fires if f <= moment)
        following = min(f for f in fires if f > moment)
        assert utc(period_containing(schedule(spec), moment, BELGRADE)) == (latest, following)
        before = max(f for f in fires if f < latest)
        assert utc(last_due_period(schedule(spec), moment, BELGRADE)) == (before, latest)


def test_weekday_digest_never_fires_at_weekends() -> None:
    fires = firings("0 8 * * 1-5", at("2026-11-30 00:00+01:00"), at("2026-12-13 23:59+01:00"))
    assert [f.astimezone(BELGRADE).strftime("%a %d") for f in fires] == [
        "Mon 30", "Tue 01", "Wed 02", "Thu 03", "Fri 04",
        "Mon 07", "Tue 08", "Wed 09", "Thu 10", "Fri 11",
    ]  # fmt: skip
