"""What the newsroom pages of `balkanwatch web` show, read from the store: one view model per page.

Pure of the web server: each `*_page` function takes a store, the configuration and the clock and
returns a dataclass the templates `web/*.html` lay out (`webplugin.py` serves them). Times are
local (settings.timezone), titles and snippets in the article's own script, outlets by their
display title.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from balkanwatch.analysis.query import QueryError, parse_query
from balkanwatch.app.health import judge
from balkanwatch.app.report import outlet_health, relative
from balkanwatch.core.config import Config
from balkanwatch.core.document import split_seed
from balkanwatch.core.secrets import mask_secrets
from balkanwatch.core.times import parse_time, to_iso
from balkanwatch.delivery.escaping import Piece, clean_line, format_time, pieces, safe_url, trim
from balkanwatch.storage.search import SearchQuery
from balkanwatch.storage.store import Store

STORIES_PER_TOPIC = 8
SEARCH_LIMIT = 50
DAYS = 7  # outlet health: articles per day over the last week
SNIPPET_MAX = 280


# -- the one call of the store's search -------------------------------------------------------


class SearchError(ValueError):
    """A query the search cannot run; the message is one line for the reader."""


def search_articles(store: Store, query: str, limit: int = SEARCH_LIMIT) -> list[dict[str, Any]]:
    """The archive search with exactly the CLI's semantics: the one place the web calls it.

    Rows: id, url, outlet, title, published, fetched_at, snippet (the article's own script,
    unmarked) and terms (the matched words as written, to mark)."""
    try:
        hits = store.search(SearchQuery(parse_query(query), limit=limit))
    except QueryError as e:  # the search's own "bad query" error
        raise SearchError(str(e)) from None
    return [{**h.as_json(), "snippet": h.snippet.text} for h in hits]


# -- view models ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Card:
    """One story (or search result) in a list."""

    id: int  # the story's first article: /story/<id>
    title: str
    url: str
    href: str | None  # the URL when it may be a link
    when: str  # local time
    iso: str  # the same instant, for <time datetime=...>
    outlets: list[str]  # display titles, the first outlet first
    terms: list[str]
    snippet: list[Piece]
    language: str = ""


@dataclass(frozen=True)
class Section:
    name: str
    title: str
    stories: list[Card]


@dataclass(frozen=True)
class OutletRow:
    name: str
    title: str
    enabled: bool
    state: str  # healthy | failing | silent | never crawled
    last_crawl: str  # local time, or "never"
    ago: str  # "20m ago"
    result: str  # ok, error, ... or ""
    reason: str  # why it is unhealthy, or the last error
    per_day: list[tuple[str, int]]  # (local day label, articles stored), oldest first
    week: int  # articles in those days


@dataclass(frozen=True)
class FrontPage:
    sections: list[Section]
    unhealthy: list[OutletRow]
    timezone: str
    title: str = "Latest stories"


@dataclass(frozen=True)
class Copy:
    outlet: str
    when: str
    iso: str
    after: str  # "first", or how long after the first copy: "+1 h 05 min"
    title: str
    url: str
    href: str | None


@dataclass(frozen=True)
class StoryPage:
    id: int
    title: str
    topics: list[tuple[str, list[str]]]  # (topic title, matched words)
    snippet: list[Piece]
    copies: list[Copy]  # in the order they appeared
    timezone: str

    @property
    def outlets(self) -> list[str]:
        return list(dict.fromkeys(c.outlet for c in self.copies))


@dataclass(frozen=True)
class OutletsPage:
    outlets: list[OutletRow]
    days: list[str]
    timezone: str
    title: str = "Outlet health"


@dataclass(frozen=True)
class SearchPage:
    query: str
    results: list[Card] = field(default_factory=list)
    error: str = ""
    timezone: str = ""
    title: str = "Search"


# -- helpers ----------------------------------------------------------------------------------


def _outlet_title(cfg: Config, name: str) -> str:
    try:
        return cfg.outlet(name).title or name
    except KeyError:
        return name


def _moment(row: dict[str, Any]) -> datetime | None:
    """When an article appeared: its published time, unless that is later than the fetch (a
    wrong zone on the site), as in the Atom feeds."""
    fetched = parse_time(row.get("fetched_at"))
    published = parse_time(row.get("published"))
    if published is not None and (fetched is None or published <= fetched):
        return published
    return fetched


def _title(row: dict[str, Any]) -> str:
    return clean_line(row.get("title") or split_seed(row.get("text") or "")[0] or row["url"])


def _terms(raw: Any) -> list[str]:
    try:
        return [clean_line(str(t)) for t in json.loads(raw or "[]") if clean_line(str(t))]
    except (TypeError, ValueError):
        return []


def _when(moment: datetime | None, cfg: Config) -> tuple[str, str]:
    if moment is None:
        return "time not given", ""
    return format_time(moment, cfg.settings.tz), to_iso(moment)


def _after(first: datetime | None, moment: datetime | None) -> str:
    if first is None or moment is None:
        return ""
    minutes = int((moment - first).total_seconds() // 60)
    if minutes <= 0:
        return "first" if minutes == 0 else ""
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"+{days} d {hours} h"
    return f"+{hours} h {minutes:02d} min" if hours else f"+{minutes} min"


# -- the pages --------------------------------------------------------------------------------


def front_page(store: Store, cfg: Config, now: datetime) -> FrontPage:
    """The latest stories of each topic, topics in configuration order; a topic with no story
    yet is listed too, so a newsroom sees that it is watched."""
    sections = []
    for topic in cfg.topics:
        rows = store.topic_stories(topic.name, STORIES_PER_TOPIC)
        sections.append(
            Section(topic.name, topic.title or topic.name, [_card(store, cfg, r) for r in rows])
        )
    health = outlets_page(store, cfg, now)
    bad = [o for o in health.outlets if o.state in ("failing", "silent")]
    return FrontPage(sections, bad, cfg.settings.timezone)


def _card(store: Store, cfg: Config, row: dict[str, Any]) -> Card:
    copies = store.story_copies(row["story_id"]) if row.get("story_id") else []
    names = [_outlet_title(cfg, row["outlet"])]
    names += [_outlet_title(cfg, c["outlet"]) for c in copies if c["id"] != row["id"]]
    terms = _terms(row.get("terms"))
    when, iso = _when(_moment(row), cfg)
    return Card(
        id=int(row["id"]),
        title=_title(row),
        url=clean_line(row["url"]),
        href=safe_url(row["url"]),
        when=when,
        iso=iso,
        outlets=list(dict.fromkeys(names)),
        terms=list(dict.fromkeys(terms)),
        snippet=pieces(trim(clean_line(row.get("snippet") or ""), SNIPPET_MAX), terms),
        language=clean_line(row.get("language") or ""),
    )


def story_page(store: Store, cfg: Config, article_id: int) -> StoryPage | None:
    """A story by any of its articles' ids: every copy, in the order they appeared."""
    article = store.article(article_id)
    if article is None:
        return None
    story_id = article["story_id"] or article["id"]
    rows = store.story_copies(story_id) or [article]
    rows.sort(key=lambda r: (_moment(r) or datetime.max.replace(tzinfo=UTC), r["id"]))
    first = _moment(rows[0])
    copies = []
    for r in rows:
        when, iso = _when(_moment(r), cfg)
        copies.append(
            Copy(
                outlet=_outlet_title(cfg, r["outlet"]),
                when=when,
                iso=iso,
                after=_after(first, _moment(r)),
                title=_title(r),
                url=clean_line(r["url"]),
                href=safe_url(r["url"]),
            )
        )
    topics, snippet = _story_matches(store, cfg, [r["id"] for r in rows])
    lead = store.article(story_id) or article
    return StoryPage(story_id, _title(lead), topics, snippet, copies, cfg.settings.timezone)


def _story_matches(
    store: Store, cfg: Config, ids: list[int]
) -> tuple[list[tuple[str, list[str]]], list[Piece]]:
    """The topics any copy matched, with their words, and the first copy's matching sentence."""
    found: dict[str, list[str]] = {}
    snippet: list[Piece] = []
    for article_id in ids:
        for name in sorted(store.matched_topics(article_id)):
            match = store.match(article_id, name)
            if match is None:
                continue
            words = found.setdefault(name, [])
            words += [clean_line(t) for t in match.terms if clean_line(t) not in words]
            if not snippet and match.snippet:
                snippet = pieces(trim(clean_line(match.snippet), SNIPPET_MAX), match.terms)
    titles = {t.name: t.title or t.name for t in cfg.topics}
    return [(titles.get(n, n), words) for n, words in found.items()], snippet


def outlets_page(store: Store, cfg: Config, now: datetime) -> OutletsPage:
    """Every configured outlet: its state, last crawl and why it failed, and articles per day
    over the last week in local days (today last)."""
    tz = cfg.settings.tz
    today = now.astimezone(tz).date()
    days = [today - timedelta(days=n) for n in range(DAYS - 1, -1, -1)]
    start = datetime.combine(days[0], datetime.min.time(), tz)
    counts: dict[str, Counter[Any]] = {}
    for r in store.articles_by_hour(to_iso(start)):
        hour = parse_time(f"{r['hour']}:00:00+00:00")
        if hour is not None:
            counts.setdefault(r["outlet"], Counter())[hour.astimezone(tz).date()] += int(r["n"])
    labels = [d.strftime("%a %d") for d in days]
    rows = []
    s = cfg.settings
    for outlet in cfg.outlets:
        health = outlet_health(store, outlet.name)
        verdict = judge(health, s.failure_threshold, s.empty_threshold)
        crawled = parse_time(health["last_crawl"])
        per_day = [
            (label, counts.get(outlet.name, Counter())[d])
            for label, d in zip(labels, days, strict=True)
        ]
        reason = verdict.reason or (health["error"] or "" if health["result"] == "error" else "")
        rows.append(
            OutletRow(
                name=outlet.name,
                title=outlet.title or outlet.name,
                enabled=outlet.enabled,
                state=verdict.state if crawled else "never crawled",
                last_crawl=format_time(crawled, tz) if crawled else "never",
                ago=relative(health["last_crawl"], now) if crawled else "",
                result=health["result"] or "",
                reason=clean_line(mask_secrets(reason))[:300],
                per_day=per_day,
                week=sum(n for _, n in per_day),
            )
        )
    return OutletsPage(rows, labels, s.timezone)


def search_page(store: Store, cfg: Config, query: str) -> SearchPage:
    query = clean_line(query)
    if not query:
        return SearchPage(query, timezone=cfg.settings.timezone)
    try:
        rows = search_articles(store, query)
    except SearchError as e:
        return SearchPage(query, error=clean_line(str(e)), timezone=cfg.settings.timezone)
    # The words to mark: phrases' words, prefixes; not the excluded ones.
    words = [w.strip('"') for w in query.split() if not w.startswith("-")]
    results = []
    for r in rows:
        when, iso = _when(_moment(r), cfg)
        results.append(
            Card(
                id=int(r["id"]),
                title=_title(r),
                url=clean_line(r["url"]),
                href=safe_url(r["url"]),
                when=when,
                iso=iso,
                outlets=[_outlet_title(cfg, r["outlet"])],
                terms=[],
                snippet=pieces(
                    trim(clean_line(r.get("snippet") or ""), SNIPPET_MAX), r["terms"] or words
                ),
            )
        )
    return SearchPage(query, results, timezone=cfg.settings.timezone)
