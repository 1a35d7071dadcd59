"""A story's timeline (its copies: outlet, time, URL) and the rule that calls a story breaking.

Pure: the store builds `Timeline`s from its rows (`copy_of`), delivery and the CLI read them. The
breaking rule is the one the large multilingual monitors use, reduced to what a desk can set: a
story is breaking for a subscriber once at least `outlets` DISTINCT outlets carried it within
`within` seconds of each other. Outlets are counted, not URLs: a story an outlet ran twice (a
wire copy under a second headline, an updated URL) is one outlet.

A copy's time is when it appeared: the page's published time, or the fetch time when the page
gave none, gave only a date (midnight of that day would make a morning story hours older than
it is), or gave a time later than the fetch (a wrong zone on the site: a page cannot have been
published after we read it). One wrong clock then cannot move a copy into or out of a window by
more than the crawl interval.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from balkanwatch.core.times import parse_time

_EPOCH = datetime.fromtimestamp(0, UTC)


@dataclass(frozen=True)
class StoryCopy:
    """One article of a story."""

    article_id: int
    outlet: str  # the outlet's configured name
    url: str
    title: str
    time: datetime  # when it appeared (see the module docstring), UTC
    fetched_at: datetime  # when we stored it, UTC
    from_page: bool  # `time` is the page's own published time


def copy_of(row: dict) -> StoryCopy:
    """A copy from an article row (id, outlet, url, title, published, fetched_at)."""
    fetched = parse_time(row.get("fetched_at")) or _EPOCH
    published = row.get("published")
    moment = parse_time(published)
    from_page = (
        moment is not None and isinstance(published, str) and len(published.strip()) > 10
    ) and moment <= fetched
    return StoryCopy(
        article_id=int(row["id"]),
        outlet=str(row["outlet"]),
        url=str(row["url"]),
        title=str(row.get("title") or ""),
        time=moment if from_page and moment else fetched,
        fetched_at=fetched,
        from_page=bool(from_page),
    )


@dataclass(frozen=True)
class OutletCopies:
    """An outlet's part of a story: its first copy and how many copies it ran."""

    first: StoryCopy
    copies: int

    @property
    def outlet(self) -> str:
        return self.first.outlet


@dataclass(frozen=True)
class Timeline:
    """Every copy of one story, earliest first."""

    story_id: int
    copies: tuple[StoryCopy, ...]

    @classmethod
    def of(cls, story_id: int, copies: list[StoryCopy]) -> Timeline:
        return cls(story_id, tuple(sorted(copies, key=lambda c: (c.time, c.article_id))))

    @property
    def first(self) -> StoryCopy | None:
        return self.copies[0] if self.copies else None

    @property
    def title(self) -> str:
        """The headline of the first copy that has one."""
        return next((c.title for c in self.copies if c.title), self.first.url if self.first else "")

    def outlets(self) -> list[OutletCopies]:
        """Each outlet once, in the order they first carried the story."""
        counts = Counter(c.outlet for c in self.copies)
        firsts: dict[str, StoryCopy] = {}
        for c in self.copies:
            firsts.setdefault(c.outlet, c)
        return [OutletCopies(first, counts[name]) for name, first in firsts.items()]

    def time_to(self, outlets: int) -> timedelta | None:
        """From the first appearance until the `outlets`-th distinct outlet carried it."""
        seen = self.outlets()
        if outlets < 1 or len(seen) < outlets:
            return None
        return seen[outlets - 1].first.time - seen[0].first.time

    @property
    def last_seen(self) -> datetime | None:
        """When we stored the latest copy: a feed entry of the story changes then."""
        return max((c.fetched_at for c in self.copies), default=None)


@dataclass(frozen=True)
class Spread:
    """Why a story is breaking: the outlets that carried it within one window."""

    outlets: tuple[StoryCopy, ...]  # each outlet's first copy in the window, earliest first
    start: datetime  # the window's first copy
    reached_at: datetime  # when the threshold-th distinct outlet carried it

    @property
    def span(self) -> timedelta:
        return self.reached_at - self.start


def breaking_spread(
    timeline: Timeline, outlets: int, within: float, now: datetime | None
) -> Spread | None:
    """The earliest window of `within` seconds in which at least `outlets` distinct outlets
    carried the story, if the threshold was reached no longer than `within` before `now`
    (`now=None`: however long ago, to describe a story already called breaking).

    The freshness bound is there so that a story that spread while the crawler was down, or one
    backfilled from last week, is not announced as breaking today. The window is closed at both
    ends: copies exactly `within` apart are in one window."""
    copies = timeline.copies
    width = timedelta(seconds=within)
    in_window: Counter[str] = Counter()
    left = 0
    for copy in copies:
        in_window[copy.outlet] += 1
        while copy.time - copies[left].time > width:
            in_window[copies[left].outlet] -= 1
            if not in_window[copies[left].outlet]:
                del in_window[copies[left].outlet]
            left += 1
        if len(in_window) >= outlets and (now is None or copy.time >= now - width):
            return _spread(copies, left, width, copy.time)
    return None


def _spread(
    copies: tuple[StoryCopy, ...], left: int, width: timedelta, reached: datetime
) -> Spread:
    """The window from copy `left`: every outlet with a copy in it, each by its first copy."""
    start = copies[left].time
    firsts: dict[str, StoryCopy] = {}
    for c in copies[left:]:
        if c.time - start > width:
            break
        firsts.setdefault(c.outlet, c)
    return Spread(tuple(firsts.values()), start, reached)
