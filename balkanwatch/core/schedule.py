"""Digest schedules: when a subscriber's summary is due and which span of time it covers.

A schedule is "hourly", "daily HH:MM" or a five-field crontab. All three become a crontab with
the standard meaning (Sunday is 0 or 7; when both day-of-month and day-of-week are restricted a
day matching either counts), and that becomes an APScheduler 3 trigger, so these periods and the
daemon's firing times come from the same code and agree across DST changes. A period runs from
one firing to the next, [start, end), in the configured time zone.

APScheduler's own `CronTrigger.from_crontab` is not fed the user's text directly: in 3.x it
counts weekdays from Monday = 0 (so `1-5` would mean Tuesday to Saturday) and joins day-of-month
and day-of-week with AND. We validate the fields here, with messages that say what is wrong, and
hand APScheduler an equivalent expression it reads the standard way.

Pure: no clock is read; every moment is a parameter and must be timezone-aware.
"""

from __future__ import annotations

import re
from calendar import monthrange
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger

_ALIASES = {
    "hourly": "0 * * * *",
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
}
_DAILY = re.compile(r"daily(?:\s+(?:at\s+)?(?P<hour>\d{1,2}):(?P<minute>\d{2}))?", re.IGNORECASE)
_FORMS = (
    '"hourly", "daily HH:MM" or a five-field cron expression such as "*/30 * * * *" '
    'or "0 8 * * 1" (Mondays at 08:00)'
)

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # crontab: Sunday = 0
_APS_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # APScheduler 3: Monday = 0


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # names[i] means low + i


_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day of month", 1, 31),
    _Field("month", 1, 12, _MONTHS),
    _Field("day of week", 0, 7, _CRON_DAYS),  # 7 is Sunday again
)
_ITEM = re.compile(r"(?P<range>\*|(?P<first>\w+)(?:-(?P<last>\w+))?)(?:/(?P<step>\d+))?$")


@dataclass(frozen=True)
class DigestSchedule:
    """A subscriber's digest schedule.

    `spec` is what the subscriber wrote (whitespace normalised), `crontab` the equivalent
    standard crontab. The daemon should schedule `trigger(tz)`: the same trigger the periods
    below are computed from."""

    spec: str
    crontab: str

    def trigger(self, tz: tzinfo) -> BaseTrigger:
        return _trigger(self.crontab, tz)

    def __str__(self) -> str:
        return self.spec


def parse_schedule(spec: str | None) -> DigestSchedule | None:
    """None or "" -> None (one alert per story); otherwise a schedule, or ValueError naming the
    problem (the caller adds which file and subscriber)."""
    if spec is None or not spec.strip():
        return None
    text = " ".join(spec.split())
    if text.lower() in _ALIASES:
        return DigestSchedule(text, _ALIASES[text.lower()])
    if daily := _DAILY.fullmatch(text):
        return DigestSchedule(text, _daily_crontab(text, daily))
    fields = text.split(" ")
    if len(fields) == 1:
        raise ValueError(f"digest schedule {text!r}: expected {_FORMS}")
    if len(fields) != 5:
        raise ValueError(
            f"digest schedule {text!r}: a cron expression has 5 fields (minute hour "
            f"day-of-month month day-of-week), this has {len(fields)}; expected {_FORMS}"
        )
    _parse_crontab(text)  # raises on a bad field
    return DigestSchedule(text, text)


def _daily_crontab(text: str, daily: re.Match[str]) -> str:
    if daily["hour"] is None:
        raise ValueError(f'digest schedule {text!r}: say when, e.g. "daily 08:00"')
    hour, minute = int(daily["hour"]), int(daily["minute"])
    if hour > 23 or minute > 59:
        raise ValueError(f"digest schedule {text!r}: {hour:02d}:{minute:02d} is not a time of day")
    return f"{minute} {hour} * * *"


def next_fire(schedule: DigestSchedule, after: datetime, tz: tzinfo) -> datetime:
    """The first firing strictly after `after`, in `tz`."""
    trigger = schedule.trigger(tz)
    # Firings fall on whole minutes and the trigger rounds `now` up to a whole second.
    moment = _fire_at_or_after(trigger, _utc(after, "after") + timedelta(microseconds=1))
    return moment.astimezone(tz)


def period_containing(
    schedule: DigestSchedule, moment: datetime, tz: tzinfo
) -> tuple[datetime, datetime]:
    """[start, end) around `moment`: end is the next firing after it, start the latest firing at
    or before it (a moment exactly on a firing opens the next period)."""
    trigger = schedule.trigger(tz)
    at = _utc(moment, "moment")
    end = _fire_at_or_after(trigger, at + timedelta(microseconds=1))
    start = _last_fire_at_or_before(trigger, at)
    return start.astimezone(tz), end.astimezone(tz)


def last_due_period(
    schedule: DigestSchedule, now: datetime, tz: tzinfo
) -> tuple[datetime, datetime]:
    """The most recent period that has ended at or before `now`: the one to send at `now`."""
    trigger = schedule.trigger(tz)
    end = _last_fire_at_or_before(trigger, _utc(now, "now"))
    start = _last_fire_at_or_before(trigger, end - timedelta(microseconds=1))
    return start.astimezone(tz), end.astimezone(tz)


# -- searching the trigger -------------------------------------------------------------------

# How far back to look for a firing before giving up: "0 0 29 2 *" waits 8 years across 2100,
# and February 29th on given weekdays ("0 0 29 2 */2" ANDs them, as cron does) decades.
_LONGEST_GAP = timedelta(days=100 * 366)


def _utc(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {moment!r}")
    # Arithmetic in UTC: adding to a local time across a DST change gives the wrong instant.
    return moment.astimezone(UTC)


def _fire_at_or_after(trigger: BaseTrigger, moment: datetime) -> datetime:
    fire = trigger.get_next_fire_time(None, moment)
    if fire is None:  # parse_schedule rejects expressions that never fire
        raise ValueError(f"{trigger} never fires after {moment.isoformat()}")
    return fire.astimezone(UTC)


def _last_fire_at_or_before(trigger: BaseTrigger, moment: datetime) -> datetime:
    """The latest firing <= `moment`.

    APScheduler 3 only looks forward, so: widen a window back from `moment` until it holds a
    firing, then bisect to the last one. That is a few dozen trigger calls even for a firing
    years back, where stepping forward through the window could take thousands."""
    step = timedelta(minutes=1)
    while True:
        low = moment - step
        fire = trigger.get_next_fire_time(None, low)
        if fire is not None and fire.astimezone(UTC) <= moment:
            break
        if step > _LONGEST_GAP:
            raise ValueError(f"{trigger} has not fired in the {step.days} days before {moment}")
        step *= 2
    high = moment.replace(microsecond=0) + timedelta(seconds=1)
    # Invariant: the first firing at or after `low` is <= moment, the one after `high` is not.
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        fire = trigger.get_next_fire_time(None, middle)
        if fire is not None and fire.astimezone(UTC) <= moment:
            low = middle
        else:
            high = middle
    return _fire_at_or_after(trigger, low)


# -- crontab fields --------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _parse_crontab(crontab: str) -> tuple[tuple[frozenset[int], ...], bool, bool]:
    """The five fields' value sets, and whether day-of-month and day-of-week are restricted (a
    field starting with `*` is not, as in Vixie cron and cronie)."""
    texts = crontab.split(" ")
    values = tuple(
        _expand(field, text, crontab) for field, text in zip(_FIELDS, texts, strict=True)
    )
    dom_restricted, dow_restricted = not texts[2].startswith("*"), not texts[4].startswith("*")
    if not (dom_restricted and dow_restricted) and not _possible(values[2], values[3]):
        raise ValueError(f"cron expression {crontab!r} never fires: no such day in those months")
    return values, dom_restricted, dow_restricted


def _expand(field: _Field, text: str, crontab: str) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        values |= _expand_item(field, item, crontab)
    if field.name == "day of week" and 7 in values:
        values = (values - {7}) | {0}
    return frozenset(values)


def _expand_item(field: _Field, item: str, crontab: str) -> set[int]:
    where = f"cron expression {crontab!r}, {field.name} field {item!r}"
    found = _ITEM.match(item.lower())
    if not found:
        raise ValueError(f"{where}: not a value, range (a-b), list (a,b) or step (*/n)")
    if found["range"] == "*":
        first, last = field.low, field.high
    else:
        first = _value(field, found["first"], where)
        # "5/15" is "5-max/15", as in Vixie cron.
        default_last = field.high if found["step"] else first
        last = _value(field, found["last"], where) if found["last"] else default_last
    if first > last:
        raise ValueError(f"{where}: the range runs backwards")
    step = int(found["step"]) if found["step"] else 1
    if step < 1:
        raise ValueError(f"{where}: the step must be at least 1")
    return set(range(first, last + 1, step))


def _value(field: _Field, token: str, where: str) -> int:
    if token.isascii() and token.isdigit():
        number = int(token)
    elif token in field.names:
        number = field.low + field.names.index(token)
    else:
        names = f" or a name ({', '.join(field.names)})" if field.names else ""
        raise ValueError(f"{where}: {token!r} is not a number{names}")
    if not field.low <= number <= field.high:
        raise ValueError(f"{where}: {number} is outside {field.low}-{field.high}")
    return number


def _compact(values: frozenset[int] | set[int], low: int, high: int) -> str:
    """`*` for every value, else runs as `a-b` joined by commas: an expression APScheduler and
    cron read alike."""
    if set(values) == set(range(low, high + 1)):
        return "*"
    runs: list[list[int]] = []
    for value in sorted(values):
        if runs and value == runs[-1][1] + 1:
            runs[-1][1] = value
        else:
            runs.append([value, value])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def _aps_weekdays(days: frozenset[int]) -> str:
    """Crontab weekdays (Sunday = 0) as APScheduler 3 weekday names, which cannot be misread."""
    runs = _compact({(day - 1) % 7 for day in days}, 0, 6)  # Monday -> 0, Sunday -> 6
    if runs == "*":
        return runs
    return ",".join("-".join(_APS_DAYS[int(v)] for v in run.split("-")) for run in runs.split(","))


def _possible(days: frozenset[int], months: frozenset[int]) -> bool:
    """Whether some month of `months` has some day of `days` (February counted with 29)."""
    return any(day <= monthrange(2024, month)[1] for month in months for day in days)


def _trigger(crontab: str, tz: tzinfo) -> BaseTrigger:
    (minute, hour, dom, month, dow), dom_restricted, dow_restricted = _parse_crontab(crontab)

    def cron(days: str, weekdays: str) -> CronTrigger:
        fields = [_compact(minute, 0, 59), _compact(hour, 0, 23), days, _compact(month, 1, 12)]
        return CronTrigger.from_crontab(" ".join([*fields, weekdays]), timezone=tz)

    days, weekdays = _compact(dom, 1, 31), _aps_weekdays(dow)
    if dom_restricted and dow_restricted:
        # Standard cron: a day matching either field fires; APScheduler would need both. A day
        # part that can never match ("31" in "apr") is left out: its trigger would search to 9999.
        if not _possible(dom, month):
            return cron("*", weekdays)
        return OrTrigger([cron(days, "*"), cron("*", weekdays)])
    return cron(days, weekdays)
