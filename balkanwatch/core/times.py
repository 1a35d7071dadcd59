"""Time: aware datetimes inside, ISO 8601 strings only at the storage and display edges.

One rule for every stored time: a value without an offset is UTC (the store writes UTC), a bare
date is midnight UTC. Anything unreadable is None rather than an exception, because stored and
scraped times come from outside and one bad value must not stop a crawl or a report.
"""

from __future__ import annotations

from datetime import UTC, date, datetime


def now() -> datetime:
    return datetime.now(UTC)


def utcnow() -> str:
    """Now, as the store writes times: UTC, to the second."""
    return to_iso(now())


def iso(ts: float) -> str:
    """A POSIX timestamp as the store writes times."""
    return to_iso(datetime.fromtimestamp(ts, UTC))


def to_iso(moment: datetime) -> str:
    """An aware datetime in UTC to the second; a naive one is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def parse_time(value: object) -> datetime | None:
    """An ISO 8601 date or datetime (a trailing Z allowed) -> aware UTC datetime, or None."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str) and value.strip():
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def timestamp(value: object) -> float | None:
    """`parse_time` as a POSIX timestamp."""
    moment = parse_time(value)
    return None if moment is None else moment.timestamp()
