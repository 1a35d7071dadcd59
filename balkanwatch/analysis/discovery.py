"""Finding article URLs: feeds, sitemaps, robots.txt and homepage links.

The Scrapy spider fetches; these functions only read the bodies it got and
return plain data, so every parser is tested on real and hand-made documents
without a crawler. A body that is not what it claims to be (HTML served at a
feed URL, a truncated sitemap) raises ``DiscoveryError`` so that the spider can
record the outlet's error instead of silently finding nothing.
"""

from __future__ import annotations

import io
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import unescape
from time import struct_time
from urllib.parse import unquote, urljoin, urlsplit

import feedparser
import lxml.html
from dateutil import parser as dateparser
from lxml import etree

from balkanwatch.analysis.charset import decode_html, xml_to_utf8
from balkanwatch.analysis.linkclass import (
    NAVIGATION_QUERY_KEYS,
    NAVIGATION_SEGMENTS,
    anchor_title,
    is_asset,
)
from balkanwatch.analysis.urls import canonical_url, is_own_domain

__all__ = [
    "DiscoveryError",
    "Link",
    "Sitemap",
    "autodiscover_feeds",
    "is_article_url",
    "parse_feed",
    "parse_sitemap",
    "robots_sitemaps",
    "scan_article_links",
]

# sitemaps.org caps an uncompressed sitemap at 50 MB; anything larger is a
# mistake or a decompression bomb, and is refused rather than held in memory.
MAX_SITEMAP_BYTES = 50 * 1024 * 1024

FEED_TYPES = frozenset(
    {"application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/x-rss+xml"}
)


class DiscoveryError(Exception):
    """A body that should be a feed or sitemap is not one (malformed, HTML, too big)."""


@dataclass(frozen=True)
class Link:
    """A candidate article: its URL and what the listing said about it."""

    url: str
    title: str | None = None
    published: datetime | None = None  # tz-aware UTC
    # The last modification the listing reports (lastmod, <updated>); not part of a link's
    # identity, so listings compare equal whatever they say about edits.
    updated: datetime | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Sitemap:
    """A parsed sitemap: articles (``urlset``) or child sitemaps (``sitemapindex``)."""

    kind: str  # "urlset" | "sitemapindex"
    links: list[Link]


# --- feeds ---------------------------------------------------------------------------


def parse_feed(
    body: bytes, base_url: str, charset: str | None = None, language: str | None = None
) -> list[Link]:
    """Read an RSS 2.0, RSS 1.0 (RDF) or Atom feed into links, in feed order.

    The encoding is the feed's own (BOM, XML declaration) unless its bytes
    contradict it; then ``charset`` (the HTTP header's) and the region's code
    pages compete for it (``balkanwatch.analysis.charset``, ``language`` the
    outlet's). feedparser falls back to its lenient parser for feeds that are
    not well-formed (some outlets' are not): such a feed is accepted as long
    as entries come out.
    A body with no entries that is malformed or is no feed at all (an HTML
    error page) raises ``DiscoveryError``; a valid feed with no items is [].
    """
    body = xml_to_utf8(body, charset, language)
    # A stream, never bytes or str: feedparser treats a str that looks like a
    # URL or a file name as something to open. A content type must be given or
    # feedparser flags every feed as bozo; application/xml leaves the encoding
    # to the BOM and XML declaration (the server's charset was used above only
    # where the feed itself is silent).
    headers = {"content-location": base_url, "content-type": "application/xml"}
    parsed = feedparser.parse(io.BytesIO(body), response_headers=headers)
    entries = parsed.get("entries") or []
    links: list[Link] = []
    seen: set[str] = set()
    for entry in entries:
        url = _entry_url(entry, base_url)
        if url is None or url in seen:
            continue
        seen.add(url)
        published = _from_struct_time(entry.get("published_parsed") or entry.get("updated_parsed"))
        # dict.get: FeedParserDict.get maps a missing updated to published, with a warning
        updated = _from_struct_time(dict.get(entry, "updated_parsed")) or published
        links.append(
            Link(
                url=url,
                title=_clean_title(entry.get("title")),
                published=published,
                updated=updated,
            )
        )
    # Judged on the links, not the entries: a feed cut off inside its first <item> still
    # gives feedparser one (empty) entry.
    if not links and (parsed.get("bozo") or not parsed.get("version")):
        reason = parsed.get("bozo_exception") or "no RSS, RDF or Atom root element"
        raise DiscoveryError(f"not a feed: {reason}")
    return links


def _entry_url(entry: feedparser.FeedParserDict, base_url: str) -> str | None:
    # An item without <link> may still have a URL as its guid or Atom id.
    for candidate in (entry.get("link"), entry.get("id")):
        if candidate:
            url = urljoin(base_url, candidate.strip())
            if urlsplit(url).scheme in ("http", "https"):
                return url
    return None


def _from_struct_time(value: struct_time | None) -> datetime | None:
    # feedparser has already converted the feed's own offset to UTC.
    if value is None:
        return None
    try:
        return datetime(*value[:6], tzinfo=UTC)
    except (TypeError, ValueError):
        return None


_TAG_RE = re.compile(r"<[^>]+>")


def _clean_title(value: str | None) -> str | None:
    """Plain text of a title that feeds often send as (doubly escaped) HTML."""
    if not value:
        return None
    text = " ".join(unescape(_TAG_RE.sub("", value)).split())
    return text or None


# --- sitemaps ------------------------------------------------------------------------

_SITEMAP_PARSER_OPTIONS = {
    "resolve_entities": False,  # no XXE, no entity expansion
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,  # keep libxml2's limits against amplification attacks
    "recover": False,  # a broken sitemap is an error to report, not to guess at
    "remove_comments": True,
    "remove_pis": True,
}


def parse_sitemap(body: bytes, charset: str | None = None, language: str | None = None) -> Sitemap:
    """Read a sitemap or sitemap index, gzipped or not, decoded as ``parse_feed`` decodes.

    ``<lastmod>`` becomes ``published`` unless a Google News
    ``<news:publication_date>`` gives the real publication time. Elements are
    matched by local name because sites mix up the sitemap namespace (0.84,
    https, none at all) more often than they get it right.
    """
    data = _gunzip(body) if body[:2] == b"\x1f\x8b" else body
    if len(data) > MAX_SITEMAP_BYTES:
        raise DiscoveryError(f"sitemap larger than {MAX_SITEMAP_BYTES} bytes")
    if not data.startswith(b"\xef\xbb\xbf"):
        data = data.lstrip()  # stray newlines before <?xml are a common plugin bug
    data = xml_to_utf8(data, charset, language)  # news titles in a mislabelled code page
    try:
        root = etree.fromstring(data, etree.XMLParser(**_SITEMAP_PARSER_OPTIONS))
    except etree.XMLSyntaxError as error:
        raise DiscoveryError(f"malformed sitemap XML: {error}") from error
    if root.getroottree().docinfo.doctype:
        # No sitemap needs a DTD; one that declares entities is an attack or junk.
        raise DiscoveryError("sitemap declares a DOCTYPE; refused")
    kind = etree.QName(root).localname
    if kind not in ("urlset", "sitemapindex"):
        raise DiscoveryError(f"not a sitemap: root element <{kind}>")
    item_name = "url" if kind == "urlset" else "sitemap"
    links = [link for item in _children(root, item_name) if (link := _sitemap_link(item))]
    return Sitemap(kind=kind, links=links)


def _gunzip(body: bytes) -> bytes:
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = decompressor.decompress(body, MAX_SITEMAP_BYTES + 1)
    except zlib.error as error:
        raise DiscoveryError(f"corrupt gzip sitemap: {error}") from error
    if len(data) > MAX_SITEMAP_BYTES:
        raise DiscoveryError(f"gzip sitemap expands beyond {MAX_SITEMAP_BYTES} bytes")
    if not decompressor.eof:
        raise DiscoveryError("truncated gzip sitemap")
    return data


def _children(element: etree._Element, localname: str) -> Iterator[etree._Element]:
    for child in element:
        if isinstance(child.tag, str) and etree.QName(child).localname == localname:
            yield child


def _child_text(element: etree._Element, localname: str) -> str | None:
    for child in _children(element, localname):
        text = "".join(child.itertext()).strip()
        return text or None
    return None


def _sitemap_link(item: etree._Element) -> Link | None:
    loc = _child_text(item, "loc")
    if not loc or urlsplit(loc).scheme not in ("http", "https"):
        return None
    published = lastmod = _parse_w3c_datetime(_child_text(item, "lastmod"))
    title = None
    for news in _children(item, "news"):
        title = _clean_title(_child_text(news, "title"))
        published = _parse_w3c_datetime(_child_text(news, "publication_date")) or published
    return Link(url=loc, title=title, published=published, updated=lastmod or published)


def _parse_w3c_datetime(text: str | None) -> datetime | None:
    """W3C datetime (``2024-05-17``, ``2024-05-17T10:00+02:00``) as aware UTC; naive = UTC."""
    if not text:
        return None
    try:
        value = dateparser.isoparse(text)
    except (ValueError, OverflowError):
        try:  # "2024-05-17 10:00:00" and RFC 822 dates turn up too
            value = dateparser.parse(text)
        except (ValueError, OverflowError):
            return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


# --- robots.txt and <link rel=alternate> ---------------------------------------------

_ROBOTS_SITEMAP_RE = re.compile(r"^\s*sitemap\s*:\s*(\S+)", re.IGNORECASE)


def robots_sitemaps(robots_txt: str, base_url: str) -> list[str]:
    """The ``Sitemap:`` URLs of a robots.txt, absolute, deduplicated, in file order.

    Sitemap lines stand outside user-agent groups, so every one counts.
    """
    found: list[str] = []
    for line in robots_txt.lstrip("\ufeff").splitlines():
        match = _ROBOTS_SITEMAP_RE.match(line.split("#", 1)[0])
        if not match:
            continue
        url = urljoin(base_url, match.group(1))
        if urlsplit(url).scheme in ("http", "https") and url not in found:
            found.append(url)
    return found


def autodiscover_feeds(html: bytes | str, base_url: str) -> list[str]:
    """Feed URLs announced by ``<link rel="alternate" type="application/rss+xml">`` and Atom.

    WordPress announces its comment feeds the same way; they hold readers'
    comments, not articles, and are left out.
    """
    doc = _parse_html(html)
    if doc is None:
        return []
    base = _document_base(doc, base_url)
    found: list[str] = []
    for element in doc.iter("link"):
        rels = (element.get("rel") or "").lower().split()
        media_type = (element.get("type") or "").split(";")[0].strip().lower()
        href = (element.get("href") or "").strip()
        if "alternate" not in rels or media_type not in FEED_TYPES or not href:
            continue
        url = urljoin(base, href)
        if _is_comment_feed(url) or urlsplit(url).scheme not in ("http", "https"):
            continue
        if url not in found:
            found.append(url)
    return found


def _is_comment_feed(url: str) -> bool:
    parts = urlsplit(url)
    return "/comments/feed" in parts.path.lower() or "feed=comments" in parts.query.lower()


def _parse_html(html: bytes | str) -> lxml.html.HtmlElement | None:
    """Parse a page whose bytes may be in any encoding it declares (or none)."""
    text = html if isinstance(html, str) else decode_html(html).text
    if not text.strip():
        return None
    parser = lxml.html.HTMLParser(encoding="utf-8", remove_comments=True)
    try:
        doc = lxml.html.document_fromstring(text.encode("utf-8"), parser=parser)
    except (etree.ParserError, ValueError):
        return None
    etree.strip_elements(doc, "script", "style", "noscript", "template", with_tail=False)
    return doc


def _document_base(doc: lxml.html.HtmlElement, base_url: str) -> str:
    for element in doc.iter("base"):
        href = (element.get("href") or "").strip()
        if href:
            return urljoin(base_url, href)
    return base_url


# --- homepage link scanning ----------------------------------------------------------


def scan_article_links(
    html: bytes | str, base_url: str, domains: Iterable[str], pattern: str | None = None
) -> list[Link]:
    """Article links of a homepage or section page: canonical, deduplicated, in page order.

    With the outlet's ``article_pattern`` a link is an article when the regex
    matches its canonical URL; without one, ``is_article_url`` judges. Links to
    other domains are never returned. Each link's title is the best text any
    of its anchors offers: a heading inside the anchor, else the anchor text,
    else its ``title`` attribute, else an image's ``alt``.
    """
    doc = _parse_html(html)
    if doc is None:
        return []
    domains = list(domains)
    base = _document_base(doc, base_url)
    matcher = re.compile(pattern) if pattern else None
    order: list[str] = []
    best: dict[str, tuple[int, str | None]] = {}
    for anchor in doc.iter("a"):
        url = _anchor_url(anchor, base)
        if url is None or not is_own_domain(url, domains) or _is_asset(url):
            continue
        if not (matcher.search(url) if matcher else is_article_url(url)):
            continue
        rank, title = anchor_title(anchor)
        if url not in best:
            order.append(url)
            best[url] = (rank, title)
        elif rank < best[url][0]:
            best[url] = (rank, title)
    return [Link(url=url, title=best[url][1]) for url in order]


def _anchor_url(anchor: lxml.html.HtmlElement, base: str) -> str | None:
    href = (anchor.get("href") or "").strip()
    if not href or href.startswith("#"):
        return None
    url = urljoin(base, href)
    if urlsplit(url).scheme not in ("http", "https"):
        return None
    return canonical_url(url)


# One list of navigation segments and asset extensions, kept with the link classifier.
_is_asset = is_asset
_NAVIGATION_QUERY_KEYS = NAVIGATION_QUERY_KEYS
# A date followed by something that is not just a day: /2024/05/17/ alone is an archive.
_DATED_PATH_RE = re.compile(
    r"/(?:19|20)\d\d/(?:0?[1-9]|1[0-2])/(?:(?:0?[1-9]|[12]\d|3[01])/)?(?!\d{1,2}/?$)[^/]+"
)
_DATED_SEGMENT_RE = re.compile(r"(?:19|20)\d\d-[01]\d-[0-3]\d-\w")
_ID_FILE_RE = re.compile(r"\d{5,}\.(?:html?|php|aspx?)", re.IGNORECASE)
_ID_SEGMENT_RE = re.compile(r"\d{5,}")
_SLUG_ID_RE = re.compile(r"[-_]\d{5,}(?:\.html?)?$|^\d{5,}[-_]")
_QUERY_ID_KEYS_RE = re.compile(r"(?:p|id|aid|nid|nav_id|(?:article|news|story|post)_?id)")
_SLUG_SEPARATORS_RE = re.compile(r"[-_]+")
MIN_SLUG_WORDS = 4
MIN_SLUG_LENGTH = 16


def is_article_url(url: str) -> bool:
    """Heuristic for a homepage link that leads to one article, not to a listing.

    An article URL carries an identity of its own: a date followed by a slug
    (``/2024/05/17/slug/``), a numeric id of five digits or more next to a
    slug or as a file (``/arberi/81640/slug/``, ``/a/29104034.html``), an id
    query parameter (``?ID=1234``), or a slug of several words
    (``/vuciq-nuk-ka-zgjidhje-per-kosoven/``). Section names are one to three
    words; a bare number after a short segment (``/z/16983``) is a section id.
    Any navigation segment (category, tag, author, page, search, feed, ...)
    vetoes the link first.
    """
    parts = urlsplit(url)
    path = unquote(parts.path).lower()
    segments = [s for s in path.split("/") if s]
    if not segments and not parts.query:
        return False
    if any(s in NAVIGATION_SEGMENTS for s in segments):
        return False
    query_keys = {q.partition("=")[0].lower() for q in parts.query.split("&") if q}
    if query_keys & _NAVIGATION_QUERY_KEYS:
        return False
    return (
        _has_date(path, segments)
        or _has_numeric_id(segments)
        or _has_query_id(parts.query)
        or _has_long_slug(segments)
    )


def _has_date(path: str, segments: list[str]) -> bool:
    return bool(_DATED_PATH_RE.search(path)) or any(_DATED_SEGMENT_RE.match(s) for s in segments)


def _has_numeric_id(segments: list[str]) -> bool:
    for index, segment in enumerate(segments):
        if _ID_FILE_RE.fullmatch(segment) or _SLUG_ID_RE.search(segment):
            return True
        # A bare id counts before a slug (/arberi/81640/slug/) or when long;
        # a short trailing one is a section id (/z/16983, a Pangea zone).
        if _ID_SEGMENT_RE.fullmatch(segment) and (index + 1 < len(segments) or len(segment) >= 6):
            return True
    return False


def _has_query_id(query: str) -> bool:
    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        if _QUERY_ID_KEYS_RE.fullmatch(key.lower()) and value.isdigit() and len(value) >= 3:
            return True
    return False


def _has_long_slug(segments: list[str]) -> bool:
    if not segments:
        return False
    slug = segments[-1].rsplit(".", 1)[0] if "." in segments[-1] else segments[-1]
    words = [w for w in _SLUG_SEPARATORS_RE.split(slug) if w]
    return len(words) >= MIN_SLUG_WORDS and len(slug) >= MIN_SLUG_LENGTH
