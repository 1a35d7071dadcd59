"""`balkanwatch discover`: an outlet's feeds, sitemaps and article links from its homepage.

With the homepage's HTML on stdin nothing is fetched. Otherwise robots.txt, the homepage, the
sitemaps robots.txt or the page names and the feeds the page announces are fetched one after
another with a plain synchronous client (timeouts, size limits, robots.txt obeyed under the
configured user agent): discovery runs once by hand, so Scrapy's machinery would only add
start-up time. Feed and sitemap items serve as the outlet's example article URLs, from which its
URL templates are learned; `--yaml` ends with a ready outlets.yaml entry.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
import urllib.robotparser
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TextIO
from urllib.parse import urljoin, urlsplit

import lxml.html
import yaml
from lxml import etree

from balkanwatch.analysis.discovery import (
    DiscoveryError,
    Link,
    autodiscover_feeds,
    parse_feed,
    parse_sitemap,
    robots_sitemaps,
)
from balkanwatch.analysis.linkclass import classify_links
from balkanwatch.analysis.urls import canonical_url, is_own_domain, registered_domain, site_of
from balkanwatch.analysis.urltemplates import learn_templates

MAX_BYTES = 10 * 1024 * 1024  # a homepage, feed or sitemap larger than this is cut off
TIMEOUT = 15.0  # seconds per request
MAX_SITEMAPS = 6  # sitemaps fetched at most (an index may list hundreds of archives)
MAX_FEEDS = 3


@dataclass
class Fetcher:
    """Sequential GETs with one user agent, robots.txt obeyed, every request counted."""

    user_agent: str
    requests: int = 0
    robots: urllib.robotparser.RobotFileParser | None = None
    refused: list[str] = field(default_factory=list)

    def get(self, url: str) -> tuple[int, bytes, str]:
        """(status, body, content type); status 0 when the connection failed."""
        if self.robots is not None and not self.robots.can_fetch(self.user_agent, url):
            self.refused.append(url)
            return 0, b"", ""
        self.requests += 1
        request = urllib.request.Request(url, headers={"User-Agent": self.user_agent})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
                return (
                    response.status,
                    response.read(MAX_BYTES),
                    response.headers.get("Content-Type", ""),
                )
        except urllib.error.HTTPError as error:
            return error.code, b"", ""
        except (urllib.error.URLError, OSError, ValueError):
            return 0, b"", ""

    def read_robots(self, homepage: str) -> str:
        status, body, _ = self.get(urljoin(homepage, "/robots.txt"))
        text = body.decode("utf-8", "replace") if status == 200 else ""
        self.robots = urllib.robotparser.RobotFileParser()
        self.robots.parse(text.splitlines())
        return text


@dataclass
class Discovery:
    homepage: str
    findings: list[dict[str, str]] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)  # article URLs from feeds and sitemaps
    feeds: list[str] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)
    language: str = ""
    title: str = ""

    def add(self, kind: str, url: str, evidence: str) -> None:
        self.findings.append({"kind": kind, "url": url, "evidence": evidence})


def discover(
    homepage: str,
    html: bytes | None,
    examples: Iterable[str] = (),
    fetcher: Fetcher | None = None,
) -> Discovery:
    """Everything found for one outlet; with ``html`` given, nothing is fetched."""
    found = Discovery(homepage)
    domains = [site_of(homepage)]
    robots_text = ""
    if html is None and fetcher is not None:
        robots_text = fetcher.read_robots(homepage)
        status, html, _ = fetcher.get(homepage)
        if status != 200:
            raise DiscoverError(f"{homepage}: homepage answered {status or 'nothing'}")
    html = html or b""
    found.title, found.language = _page_facts(html)
    for url in autodiscover_feeds(html, homepage):
        if is_own_domain(url, domains) and url not in found.feeds:
            found.feeds.append(url)
    candidates = [(u, "named in robots.txt") for u in robots_sitemaps(robots_text, homepage)]
    candidates += [(u, "announced by <link rel=sitemap>") for u in _sitemap_links(html, homepage)]
    if fetcher is not None:
        _read_feeds(found, fetcher)
        _read_sitemaps(found, fetcher, candidates, domains)
    else:
        for url in found.feeds:
            found.add("feed", url, "announced by <link rel=alternate> on the homepage")
        for url, why in candidates:
            found.sitemaps.append(url)
            found.add("sitemap", url, why)
    found.examples += [canonical_url(u) for u in examples]
    for verdict in classify_links(html, homepage, domains, found.examples):
        if verdict.article:
            found.add("article", verdict.url, verdict.evidence)
    return found


class DiscoverError(Exception):
    """The homepage could not be read."""


def _read_feeds(found: Discovery, fetcher: Fetcher) -> None:
    for url in found.feeds[:MAX_FEEDS]:
        status, body, content_type = fetcher.get(url)
        try:
            if status != 200:
                raise DiscoveryError(f"HTTP {status or 'no answer'}")
            links = parse_feed(body, url, _charset(content_type))
        except DiscoveryError as error:
            found.add("feed", url, f"announced on the homepage, but unusable: {error}")
            continue
        found.examples += [link.url for link in links]
        found.add("feed", url, f"announced by <link rel=alternate>; {len(links)} items")


def _read_sitemaps(
    found: Discovery, fetcher: Fetcher, candidates: list[tuple[str, str]], domains: list[str]
) -> None:
    queue = list(dict.fromkeys(candidates))
    seen: set[str] = set()
    while queue and len(seen) < MAX_SITEMAPS:
        url, why = queue.pop(0)
        if url in seen or not is_own_domain(url, domains):
            continue
        seen.add(url)
        status, body, _ = fetcher.get(url)
        try:
            if status != 200:
                raise DiscoveryError(f"HTTP {status or 'no answer'}")
            sitemap = parse_sitemap(body)
        except DiscoveryError as error:
            found.add("sitemap", url, f"{why}, but unusable: {error}")
            continue
        top = not why.startswith("listed in")  # a child is reached through its index
        if top:
            found.sitemaps.append(url)
        if sitemap.kind == "sitemapindex":
            # News sitemaps and the newest children first: they are what a poll needs.
            children = sorted(sitemap.links, key=lambda lk: (not _is_news(lk.url), -_stamp(lk)))
            queue += [(lk.url, f"listed in the sitemap index {url}") for lk in children]
            found.add("sitemap", url, f"{why}; an index of {len(sitemap.links)} sitemaps")
            continue
        kind = "news sitemap" if any(lk.title for lk in sitemap.links) else "sitemap"
        found.examples += [lk.url for lk in sitemap.links[:200]]
        found.add("sitemap", url, f"{why}; {kind} of {len(sitemap.links)} URLs")


def _stamp(link: Link) -> float:
    moment = link.updated or link.published
    return moment.timestamp() if moment else 0.0


def _is_news(url: str) -> bool:
    return "news" in urlsplit(url).path.lower()


def _charset(content_type: str) -> str | None:
    match = re.search(r"charset=([\w-]+)", content_type or "", re.IGNORECASE)
    return match.group(1) if match else None


def _sitemap_links(html: bytes, base: str) -> list[str]:
    doc = _doc(html)
    if doc is None:
        return []
    return [
        urljoin(base, el.get("href", "").strip())
        for el in doc.iter("link")
        if "sitemap" in (el.get("rel") or "").lower().split() and el.get("href")
    ]


def _doc(html: bytes) -> lxml.html.HtmlElement | None:
    try:
        return lxml.html.document_fromstring(html) if html.strip() else None
    except (ValueError, etree.ParserError):
        return None


_TITLE_SPLIT_RE = re.compile(r"\s+[-|–—:]\s+")


def _page_facts(html: bytes) -> tuple[str, str]:
    """(site title, language): the title before its slogan, the <html lang> or og:locale."""
    doc = _doc(html)
    if doc is None:
        return "", ""
    title = " ".join((doc.findtext(".//title") or "").split())
    title = _TITLE_SPLIT_RE.split(title)[0] if title else ""
    lang = doc.get("lang") or ""
    if not lang:
        for meta in doc.iter("meta"):
            if meta.get("property") in ("og:locale", "og:language") and meta.get("content"):
                lang = meta.get("content", "")
                break
    match = re.match(r"[a-zA-Z]{2,3}", lang)
    return title, match.group(0).lower() if match else ""


def outlet_entry(found: Discovery) -> dict[str, Any]:
    """A ready outlets.yaml entry; the article pattern is learned from feed and sitemap items,
    or from the article links of the homepage when the outlet has neither."""
    host = urlsplit(found.homepage).hostname or ""
    name = re.sub(r"[^a-z0-9-]+", "-", registered_domain(host).split(".")[0].lower()).strip("-")
    entry: dict[str, Any] = {"name": name or "outlet", "title": found.title or host}
    entry["homepage"] = found.homepage
    if found.language:
        entry["language"] = found.language
    if found.feeds:
        entry["feeds"] = found.feeds
    if found.sitemaps:
        entry["sitemaps"] = found.sitemaps
    examples = found.examples or [f["url"] for f in found.findings if f["kind"] == "article"]
    learned = learn_templates(examples)
    if learned:
        entry["article_pattern"] = learned.regex()
    return entry


def run(
    homepage: str,
    examples: list[str],
    want_yaml: bool,
    html: bytes | None,
    user_agent: str,
    out: TextIO,
    err: TextIO,
) -> int:
    fetcher = None if html is not None else Fetcher(user_agent)
    try:
        found = discover(homepage, html, examples, fetcher)
    except DiscoverError as error:
        print(f"balkanwatch: {error}", file=err)
        return 1
    for finding in found.findings:
        print(json.dumps(finding, ensure_ascii=False), file=out)
    if want_yaml:
        print("# outlets.yaml entry", file=out)
        print(yaml.safe_dump([outlet_entry(found)], allow_unicode=True, sort_keys=False), file=out)
    if fetcher is not None:
        refused = f", {len(fetcher.refused)} refused by robots.txt" if fetcher.refused else ""
        print(f"discover: {fetcher.requests} requests{refused}", file=err)
    return 0
