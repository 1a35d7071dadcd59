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
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lxml import etree

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
    related = _related_urls(store, rows)
    return [_entry(row, outlets.get(row["outlet"]), related.get(row["id"], ())) for row in rows]


def _related_urls(store: Store, rows: list[dict[str, Any]]) -> dict[int, tuple[str, ...]]:
    """Other articles of each entry's story, by the entry's article id."""
    first_of = {r["story_id"]: r["id"] for r in rows if r["story_id"] is not None}
    if not first_of:
        return {}
    found: dict[int, list[str]] = {}
    for r in store.story_urls(first_of):
        first = first_of[r["story_id"]]
        if r["id"] != first:
            found.setdefault(first, []).append(r["url"])
    return {k: tuple(v[:RELATED_LIMIT]) for k, v in found.items()}


def _entry(row: dict[str, Any], outlet: Outlet | None, related: tuple[str, ...]) -> FeedEntry:
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
        related=related,
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
