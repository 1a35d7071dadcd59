"""An Atom feed per topic, for readers who would rather subscribe than get e-mail.

`render_topic_feed` is pure (entries in, bytes out, through the templates atom.xml and
atom-entry.xml); `topic_entries` reads the database;
`write_topic_feeds` ties them together and is the only part that touches the file system. The
daemon calls it after each cycle when `settings.feeds_dir` is set, and a web server serves the
directory as static files.

Choices a reader of the feed relies on:
- One entry per story, as alerts are: a story syndicated to several outlets is the entry of its
  first article, and the other copies are `rel="related"` links, so a feed reader does not show
  the same text three times. The entry id is the first article's canonical URL, which never
  changes, so readers never show an entry twice.
- Newest first by the article's published time, or its fetch time when the page gave none; a
  published time later than the fetch (a wrong time zone on the site) counts as the fetch time,
  so one bad clock cannot pin an article to the top.
- The summary is the match snippet, not the article: the text belongs to the outlet.
- A story's timeline is the entry's content: each outlet that carried it, with its time and
  link, earliest first. A copy stored later changes the content and moves `updated` to when it
  was stored, so a reader shows the entry as updated instead of a new one (and no alert is sent:
  see balkanwatch.delivery.breaking).
- A feed file is rewritten only when its bytes change (a web server's ETag and Last-Modified then
  mean something) and always through a temporary file and a rename, so a reader never fetches a
  half-written feed.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lxml import etree

from balkanwatch.analysis.timeline import Timeline
from balkanwatch.core.config import Config, Outlet, Topic
from balkanwatch.core.document import split_seed
from balkanwatch.core.times import parse_time
from balkanwatch.delivery.templating import (
    ILLEGAL_XML,
    TemplateError,
    Templates,
    templates_for,
    xml_clean,
)
from balkanwatch.storage.store import Store

FEED_LIMIT = 50
RELATED_LIMIT = 10  # copies of a story listed as related links
# Tag URIs (RFC 4151) need an authority and a date; the pair only has to be stable.
FEED_ID_PREFIX = "tag:balkanwatch,2026:topic:"


@dataclass(frozen=True)
class FeedEntry:
    """One story in a topic feed, as read from the database."""

    url: str  # canonical URL of the story's first matched article; also the entry id
    title: str
    outlet: str  # display name of the outlet
    outlet_url: str | None
    when: datetime  # published (or fetched) time, UTC
    updated: datetime  # last change: the article's last edit, else `when`
    published: bool  # `when` came from the page, not from the fetch time
    summary: str
    terms: tuple[str, ...]
    language: str | None = None
    related: tuple[str, ...] = ()  # URLs of the story's other copies
    outlets: tuple[FeedCopy, ...] = ()  # the story's timeline: each outlet's first copy


@dataclass(frozen=True)
class FeedCopy:
    """An outlet that carried the story: its first copy."""

    outlet: str  # display name
    time: datetime
    url: str
    copies: int = 1


def clean_text(value: str | None, *, one_line: bool = False) -> str:
    """Text safe to put in XML: forbidden characters removed, optionally on one line."""
    if one_line:
        return str(xml_clean(value or ""))
    return ILLEGAL_XML.sub("", value or "").strip()


# -- reading the database ---------------------------------------------------------------------


def topic_entries(
    store: Store, topic: str, outlets: Mapping[str, Outlet], limit: int = FEED_LIMIT
) -> list[FeedEntry]:
    """The latest `limit` stories that matched `topic`, newest first."""
    rows = store.topic_stories(topic, limit)
    timelines = store.story_timelines(r["story_id"] for r in rows if r["story_id"] is not None)
    entries = []
    for row in rows:
        timeline = timelines.get(row["story_id"]) or Timeline(row["id"], ())
        entry = _entry(row, outlets.get(row["outlet"]))
        entries.append(_with_timeline(entry, row["id"], timeline, outlets))
    return entries


def _with_timeline(
    entry: FeedEntry, article_id: int, timeline: Timeline, outlets: Mapping[str, Outlet]
) -> FeedEntry:
    """The entry with its story's other copies as related links and its outlets as content;
    updated when the latest of the other copies was stored."""
    others = [c for c in timeline.copies if c.article_id != article_id]
    if not others:
        return entry

    def title(name: str) -> str:
        outlet = outlets.get(name)
        return outlet.title if outlet and outlet.title else name

    carried = tuple(
        FeedCopy(title(o.outlet), o.first.time, o.first.url, o.copies) for o in timeline.outlets()
    )
    latest = max(c.fetched_at for c in others)
    return replace(
        entry,
        related=tuple(c.url for c in others)[:RELATED_LIMIT],
        outlets=carried,
        updated=max(entry.updated, latest),
    )


def _entry(row: dict[str, Any], outlet: Outlet | None) -> FeedEntry:
    fetched = parse_time(row["fetched_at"]) or datetime.fromtimestamp(0, UTC)
    published = parse_time(row["published"])
    from_page = published is not None and published <= fetched
    when = published if from_page and published else fetched
    edited = parse_time(row["updated_at"])
    title = row["title"] or split_seed(row["text"] or "")[0] or row["url"]
    try:
        terms = tuple(str(t) for t in json.loads(row["terms"] or "[]"))
    except (json.JSONDecodeError, TypeError):
        terms = ()
    return FeedEntry(
        url=row["url"],
        title=title,
        outlet=(outlet.title if outlet and outlet.title else row["outlet"]),
        outlet_url=outlet.homepage if outlet else None,
        when=when,
        updated=max(when, edited) if edited else when,
        published=from_page,
        summary=row["snippet"] or "",
        terms=terms,
        language=row["language"],
    )


# -- rendering --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedHead:
    """What the templates atom.xml shows about the feed itself."""

    id: str
    title: str
    subtitle: str
    updated: datetime
    self_url: str | None


def render_topic_feed(
    topic: Topic,
    entries: Sequence[FeedEntry],
    now: datetime,
    self_url: str | None = None,
    templates: Templates | None = None,
) -> bytes:
    """The Atom document (RFC 4287) for one topic, from the templates atom.xml and
    atom-entry.xml; `now` dates a feed with no entries. The result is parsed before it is
    returned, so a broken override is an error here rather than a feed no reader can open."""
    head = FeedHead(
        id=FEED_ID_PREFIX + topic.name,
        title=f"balkanwatch: {topic.title}",
        subtitle=f"Stories matching {', '.join(topic.keywords)}",
        updated=max((e.updated for e in entries), default=now),
        self_url=self_url,
    )
    text = (templates or templates_for()).render("atom.xml", feed=head, entries=entries)
    data = text.encode("utf-8")
    try:
        etree.fromstring(data)
    except etree.XMLSyntaxError as e:
        raise TemplateError(f"template atom.xml made invalid XML: {e}") from None
    return data


# -- writing ----------------------------------------------------------------------------------


def write_atomic(path: Path, data: bytes) -> bool:
    """Replace `path` with `data` through a temporary file and a rename; False if unchanged."""
    with contextlib.suppress(FileNotFoundError):
        if path.read_bytes() == data:
            return False
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; a web server has to read the feed
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return True


def write_topic_feeds(
    store: Store,
    config: Config,
    directory: str | Path,
    now: datetime,
    limit: int = FEED_LIMIT,
) -> list[Path]:
    """Write `<directory>/<topic>.xml` for every configured topic; the feed paths, in topic
    order. Topic names are validated slugs, so they are safe file names."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    outlets = {o.name: o for o in config.outlets}
    templates = templates_for(config.settings.templates_dir)
    paths = []
    for topic in config.topics:
        entries = topic_entries(store, topic.name, outlets, limit)
        path = directory / f"{topic.name}.xml"
        write_atomic(path, render_topic_feed(topic, entries, now, templates=templates))
        paths.append(path)
    return paths
