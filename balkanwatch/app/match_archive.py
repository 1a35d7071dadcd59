"""`balkanwatch match --archive`: the current topics run over stored articles, so a change to a
topic (a new alias, a NEAR, an exclude) can be judged on real coverage before it goes live.

Per topic it counts the articles that match now, per outlet, and how that differs from the
matches stored when the articles came in (gained: match now, did not then; lost: the reverse),
with a sample of the newest titles and the words that matched. Nothing is written.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from balkanwatch.analysis.topics import TopicMatcher
from balkanwatch.core.config import ConfigError, Topic, parse_interval

DEFAULT_SINCE = "7d"
SAMPLE = 5


class ArticleSource(Protocol):
    """What is read of the store (balkanwatch.storage.store.Store has it)."""

    def articles_since(self, since_iso: str) -> Iterable[dict[str, Any]]: ...


@dataclass
class TopicCount:
    name: str
    title: str
    matched: int = 0
    gained: int = 0  # match now, did not when stored
    lost: int = 0  # matched when stored, do not now
    outlets: Counter[str] = field(default_factory=Counter)
    sample: list[dict[str, Any]] = field(default_factory=list)  # newest first


@dataclass
class ArchiveReport:
    since: datetime | None
    articles: int
    topics: list[TopicCount]

    def as_json(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(timespec="seconds") if self.since else None,
            "articles": self.articles,
            "topics": [
                {
                    "name": t.name,
                    "title": t.title,
                    "matched": t.matched,
                    "gained": t.gained,
                    "lost": t.lost,
                    "outlets": dict(t.outlets.most_common()),
                    "sample": t.sample,
                }
                for t in self.topics
            ],
        }


def parse_since(value: str | None, now: datetime) -> datetime | None:
    """`7d`, `12h`, `90m` back from now; `all` (None) for the whole archive."""
    if value is None or value.strip().lower() == "all":
        return None
    try:
        return now - timedelta(seconds=parse_interval(value))
    except ValueError as e:
        raise ConfigError(f"--since: {e}, or 'all'") from None


def choose_topics(topics: Sequence[Topic], name: str | None) -> list[Topic]:
    if name is None:
        return list(topics)
    chosen = [t for t in topics if t.name == name]
    if not chosen:
        known = ", ".join(t.name for t in topics) or "none"
        raise ConfigError(f"--topic: unknown topic {name!r} (topics.yaml has: {known})")
    return chosen


def match_archive(
    store: ArticleSource, topics: Sequence[Topic], since: datetime | None, sample: int = SAMPLE
) -> ArchiveReport:
    """Run `topics` over the articles published (or, undated, fetched) since `since`."""
    matcher = TopicMatcher(topics)
    counts = {t.name: TopicCount(t.name, t.title) for t in topics}
    # Fetched after `since` is a superset of published after it: an article is fetched after
    # it is published. The exact test uses the publication time where there is one.
    floor = since.astimezone(UTC).isoformat(timespec="seconds") if since else ""
    articles = 0
    for row in store.articles_since(floor):
        if since and (_moment(row["published"]) or since) < since:
            continue
        articles += 1
        before = set(json.loads(row["stored_topics"] or "[]"))
        body = (row["text"] or "").partition("\n")[2]  # stored text: title line, then body
        now = {m.name: m for m in matcher.match(row["title"] or "", body)}
        for name, c in counts.items():
            c.lost += name in before and name not in now
        for name, m in now.items():
            c = counts[name]
            c.matched += 1
            c.gained += name not in before
            c.outlets[row["outlet"]] += 1
            if len(c.sample) < sample:
                c.sample.append(_sample(row, m.terms, m.keyword_of, name not in before))
    return ArchiveReport(since, articles, list(counts.values()))


def _sample(
    row: dict[str, Any], terms: list[str], keyword_of: dict[str, str], new: bool
) -> dict[str, Any]:
    return {
        "title": row["title"],
        "outlet": row["outlet"],
        "url": row["url"],
        "published": row["published"] or row["fetched_at"],
        "terms": terms,
        "keyword_of": keyword_of,
        "new": new,
    }


def _moment(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def format_report(report: ArchiveReport, tz: ZoneInfo) -> str:
    since = _local(report.since, tz) if report.since else "the start of the archive"
    lines = [f"{report.articles} stored articles since {since}"]
    for t in report.topics:
        change = f"+{t.gained} new, -{t.lost} no longer, against the stored matches"
        lines += ["", f"{t.name} ({t.title}): {t.matched} articles ({change})"]
        width = max((len(o) for o in t.outlets), default=0)
        lines += [f"  {outlet:<{width}}  {n}" for outlet, n in t.outlets.most_common()]
        for s in t.sample:
            when = _local(_moment(s["published"]), tz)
            mark = "+" if s["new"] else " "
            lines.append(f" {mark}{when}  {s['outlet']}  {s['title']}")
            words = ", ".join(_term(term, s["keyword_of"]) for term in s["terms"])
            lines.append(f"      {words}")
    return "\n".join(lines)


def _term(term: str, keyword_of: dict[str, str]) -> str:
    """Kosmetu (Kosovo): the keyword is shown when the text has another name or form of it."""
    keyword = keyword_of.get(term, term)
    return term if keyword == term else f"{term} ({keyword})"


def _local(moment: datetime | None, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") if moment else "----------"
