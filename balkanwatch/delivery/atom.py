"""An Atom feed per topic, for readers who would rather subscribe than get e-mail.

`render_topic_feed` is pure (entries in, bytes out); `topic_entries` reads the database;
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
import html
import json
import os
import re
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
from balkanwatch.storage.store import Store

FEED_LIMIT = 50
RELATED_LIMIT = 10  # copies of a story listed as related links
ATOM_NS = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
# Tag URIs (RFC 4151) need an authority and a date; the pair only has to be stable.
FEED_ID_PREFIX = "tag:balkanwatch,2026:topic:"

# Everything XML 1.0 forbids (C0 controls but tab/newline/CR, lone surrogates, U+FFFE/FFFF), plus
# C1 controls and DEL, which XML allows but which only ever come from mis-decoded pages.
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_SPACES = re.compile(r"\s+")


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
    text = _ILLEGAL_XML.sub("", value or "")
    return _SPACES.sub(" ", text).strip() if one_line else text.strip()


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, f"{{{ATOM_NS}}}{tag}")
    for k, v in attrs.items():
        el.set(k, clean_text(v, one_line=True))
    if text is not None:
        el.text = text
    return el


def render_topic_feed(
    topic: Topic, entries: Sequence[FeedEntry], now: datetime, self_url: str | None = None
) -> bytes:
    """The Atom document (RFC 4287) for one topic; `now` dates a feed with no entries."""
    feed = etree.Element(f"{{{ATOM_NS}}}feed", nsmap={None: ATOM_NS})
    _sub(feed, "id", FEED_ID_PREFIX + topic.name)
    _sub(feed, "title", clean_text(f"balkanwatch: {topic.title}", one_line=True))
    words = ", ".join(topic.keywords)
    _sub(feed, "subtitle", clean_text(f"Stories matching {words}", one_line=True))
    newest = max((e.updated for e in entries), default=now)
    _sub(feed, "updated", rfc3339(newest))
    _sub(feed, "generator", "balkanwatch")
    if self_url:
        _sub(feed, "link", rel="self", type="application/atom+xml", href=self_url)
    author = _sub(feed, "author")
    _sub(author, "name", "balkanwatch")
    for entry in entries:
        _render_entry(feed, entry)
    return etree.tostring(feed, xml_declaration=True, encoding="utf-8", pretty_print=True)


def _render_entry(feed: etree._Element, e: FeedEntry) -> None:
    el = _sub(feed, "entry")
    if e.language:
        el.set(XML_LANG, clean_text(e.language, one_line=True))
    _sub(el, "id", clean_text(e.url, one_line=True))
    _sub(el, "title", clean_text(e.title, one_line=True), type="text")
    _sub(el, "link", rel="alternate", type="text/html", href=e.url)
    titles = {c.url: c.outlet for c in e.outlets}
    for url in e.related:
        extra = {"title": titles[url]} if url in titles else {}
        _sub(el, "link", rel="related", type="text/html", href=url, **extra)
    _sub(el, "updated", rfc3339(e.updated))
    if e.published:
        _sub(el, "published", rfc3339(e.when))
    author = _sub(el, "author")
    _sub(author, "name", clean_text(e.outlet, one_line=True))
    if e.outlet_url:
        _sub(author, "uri", clean_text(e.outlet_url, one_line=True))
    for term in dict.fromkeys(clean_text(t, one_line=True) for t in e.terms):
        if term:
            _sub(el, "category", term=term)
    _sub(el, "summary", clean_text(e.summary, one_line=True), type="text")
    if e.outlets:
        _sub(el, "content", _timeline_html(e), type="html")


def _timeline_html(e: FeedEntry) -> str:
    """The story's outlets as an HTML list (Atom escapes it once more as text of `content`)."""
    items = []
    for c in e.outlets:
        more = f" (+{c.copies - 1} more)" if c.copies > 1 else ""
        link = f'<a href="{html.escape(clean_text(c.url, one_line=True))}">'
        name = html.escape(clean_text(c.outlet, one_line=True))
        items.append(
            f"<li>{c.time.astimezone(UTC):%Y-%m-%d %H:%M} UTC · {link}{name}</a>{more}</li>"
        )
    count = len(e.outlets)
    lead = html.escape(clean_text(e.summary, one_line=True))
    return (
        (f"<p>{lead}</p>" if lead else "")
        + f"<p>Carried by {count} outlet{'s' if count != 1 else ''}:</p><ol>"
        + "".join(items)
        + "</ol>"
    )


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
    paths = []
    for topic in config.topics:
        entries = topic_entries(store, topic.name, outlets, limit)
        path = directory / f"{topic.name}.xml"
        write_atomic(path, render_topic_feed(topic, entries, now))
        paths.append(path)
    return paths
