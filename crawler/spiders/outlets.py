"""The `outlets` spider: one pass over the configured outlets, finding and fetching new articles.

A thin Scrapy shell: which URLs to follow is decided by pure functions
(`balkanwatch.analysis.discovery`, `balkanwatch.analysis.urls`), what is already stored by the
database's seen-set, and everything after the fetch by the item pipelines. Arguments:
`-a outlets=a,b` restricts the pass, `-a since=2026-01-01` backfills feed and sitemap items older
than the configured maximum age.

Polling without waste: a *listing* (a feed, a urlset sitemap, a homepage whose links are scanned)
is fetched conditionally with the validators it sent last time, and a 304 ends it there. A
*pointer* (robots.txt, a sitemap index, a homepage that announces feeds) only names other
sources; it is always read in full, because its 304 says nothing about the sources it names (a
static sitemap index in front of a dynamic news sitemap is common), and it is small.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

import scrapy
from scrapy.crawler import Crawler
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from balkanwatch.analysis.charset import decode_html
from balkanwatch.analysis.discovery import (
    DiscoveryError,
    Link,
    autodiscover_feeds,
    parse_feed,
    parse_sitemap,
    robots_sitemaps,
)
from balkanwatch.analysis.urls import canonical_url, is_own_domain, registered_domain
from balkanwatch.core.config import ConfigError, Outlet
from balkanwatch.core.times import parse_time, utcnow
from crawler.context import CrawlContext, context_of
from crawler.heal import Healer
from crawler.items import ArticlePage
from crawler.redirects import OffsiteRedirect
from crawler.runs import SourceState, summary_lines

log = logging.getLogger(__name__)

# An article answered with these is gone for good: retrying it on every poll would be waste, so
# it does not keep its feed from being revalidated next time.
PERMANENT_STATUSES = frozenset({404, 410})


Callback = Callable[..., Iterator[Any]]


def tracked(callback: Callback) -> Callback:
    """A callback of an outlet's request: nothing once the outlet is done (timed out), and the
    request released from the outlet's account when the callback has yielded everything."""

    @functools.wraps(callback)
    def wrapper(spider: OutletsSpider, response: Response, outlet: Outlet, **kw: Any) -> Any:
        try:
            if not spider.ctx.is_done(outlet.name):
                yield from callback(spider, response, outlet, **kw)
        finally:
            spider.ctx.release(outlet.name)

    return wrapper


class OutletsSpider(scrapy.Spider):
    name = "outlets"
    since: datetime  # feed and sitemap items older than this are skipped
    allowed_domains: list[str]  # for Scrapy's offsite filter, set from the selected outlets
    heal: Healer  # the outlets' URL filters and source health, set with the outlets

    def __init__(self, outlets: str | None = None, since: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.outlet_names = outlet_names(outlets)
        self.since_arg = since
        # A backfill must read every source in full: a 304 would hide the old items it wants.
        self.backfill = since is not None
        # What this pass asked for already: (outlet, URL) of sources, URLs of articles.
        self.sources_requested: set[tuple[str, str]] = set()
        self.articles_requested: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> OutletsSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        ctx = context_of(crawler)
        targets = ctx.select(spider.outlet_names)
        spider.since = _parse_since(spider.since_arg, ctx.config.settings.max_age_days)
        # Registrable domains, as is_own_domain compares them: a feed on www.example.rs may link
        # articles on example.rs or news.example.rs, which Scrapy's offsite filter must let pass.
        spider.allowed_domains = sorted(
            {registered_domain(d) for o in targets for d in o.own_domains()}
        )
        # heal hook 1: the outlets' URL filters and source health (crawler/heal.py), decided
        # and stored as each outlet ends normally (nothing pending; not when cut by a deadline)
        spider.heal = Healer(ctx.store, ctx.config, targets, spider.since)
        ctx.before_finish.append(
            lambda name: spider.heal.finish(name) if ctx.tracks[name].pending <= 0 else None
        )
        return spider

    @property
    def ctx(self) -> CrawlContext:
        """The crawl's configuration, store and outlet accounts (crawler/context.py)."""
        return context_of(self.crawler)

    # -- start ------------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[scrapy.Request]:
        # Outlets start one after another (OUTLET_STAGGER seconds apart), not all at once.
        stagger = self.settings.getfloat("OUTLET_STAGGER")
        ctx = self.ctx
        for i, outlet in enumerate(ctx.targets):
            if i and stagger:
                await asyncio.sleep(stagger)
            if ctx.is_done(outlet.name):  # the crawl was stopped before its turn
                continue
            # Its clock starts with its first request; held while its sources are handed out,
            # so it cannot count as done before the last of them is sent.
            ctx.begin(outlet.name)
            ctx.hold(outlet.name)
            try:
                for req in self.source_requests(outlet):
                    yield req
            finally:
                ctx.release(outlet.name)

    def source_requests(self, outlet: Outlet) -> Iterator[scrapy.Request]:
        for url in outlet.feeds:
            yield from self.source_request(outlet, url, self.parse_feed)
        for url in outlet.sitemaps:
            yield from self.source_request(outlet, url, self.parse_sitemap)
        if not outlet.feeds and not outlet.sitemaps:
            yield from self.source_request(outlet, outlet.homepage, self.parse_homepage)
        else:  # heal hook 2: a dead or long-silent configured source: the fallback
            yield from self.heal.start(self, outlet)

    def source_request(
        self, outlet: Outlet, url: str, callback: Any, optional: bool = False
    ) -> Iterator[scrapy.Request]:
        """A feed, sitemap or homepage request, conditional on the validators stored for it;
        nothing if this pass asked for it already (a sitemap index that lists itself)."""
        if (outlet.name, url) in self.sources_requested:
            return
        if self.heal.skip(outlet, url):  # heal hook 3: a dead source is not polled
            return
        self.sources_requested.add((outlet.name, url))
        headers = {}
        saved = None if self.backfill or optional else self.ctx.store.validators(url)
        if saved:
            if saved["etag"]:
                headers["If-None-Match"] = saved["etag"]
            if saved["last_modified"]:
                headers["If-Modified-Since"] = saved["last_modified"]
        self.ctx.hold(outlet.name)
        yield scrapy.Request(
            url,
            callback=callback,
            errback=self.source_failed,
            headers=headers,
            dont_filter=True,
            meta={
                "outlet": outlet.name,
                "source": url,
                "own_domains": outlet.own_domains(),  # redirects stay on them (crawler/redirects)
                "optional": optional,
                # an optional source (robots.txt) that is missing is not an outlet error
                "handle_httpstatus_list": [304, 404, 410] if optional else [304],
            },
            cb_kwargs={"outlet": outlet},
        )

    # -- sources ----------------------------------------------------------------------------

    def _source_response(self, response: Response, outlet: Outlet) -> bool:
        """Book-keeping common to every source; False when there is nothing to parse."""
        run = self.ctx.runs[outlet.name]
        run.requests += _sent(response.meta)
        if response.status == 304:
            run.not_modified += 1
            run.sources_ok += 1
            return False
        self.ctx.sources[response.meta["source"]] = SourceState(
            outlet.name,
            _header(response, b"ETag"),
            _header(response, b"Last-Modified"),
        )
        return True

    @tracked
    def parse_feed(self, response: Response, outlet: Outlet) -> Iterator[scrapy.Request]:
        if not self._source_response(response, outlet):
            return
        try:
            links = parse_feed(
                response.body, response.url, _charset(response), outlet.language or None
            )
        except DiscoveryError as e:
            self._source_error(outlet, response.meta["source"], f"malformed feed: {e}")
            return
        self.ctx.runs[outlet.name].sources_ok += 1
        yield from self.article_requests(outlet, links, response.meta["source"])

    @tracked
    def parse_sitemap(self, response: Response, outlet: Outlet) -> Iterator[scrapy.Request]:
        if not self._source_response(response, outlet):
            return
        source = response.meta["source"]
        try:
            sitemap = parse_sitemap(response.body, _charset(response), outlet.language or None)
        except DiscoveryError as e:
            self._source_error(outlet, source, f"malformed sitemap: {e}")
            return
        self.ctx.runs[outlet.name].sources_ok += 1
        if sitemap.kind == "sitemapindex":
            self.ctx.sources[source].pointer = True
            for child in self._recent(sitemap.links):
                if is_own_domain(child.url, outlet.own_domains()):
                    yield from self.source_request(outlet, child.url, self.parse_sitemap)
            return
        yield from self.article_requests(outlet, sitemap.links, source)

    @tracked
    def parse_homepage(self, response: Response, outlet: Outlet) -> Iterator[scrapy.Request]:
        if not self._source_response(response, outlet):
            # Unchanged since its links were scanned (a homepage announcing feeds is a pointer
            # and never gets a 304); its robots.txt may still name sitemaps with new articles.
            yield from self.robots_request(outlet, response.url)
            return
        source = response.meta["source"]
        if not isinstance(response, TextResponse):
            self._source_error(outlet, source, "homepage is not HTML")
            return
        self.ctx.runs[outlet.name].sources_ok += 1
        # Decoded as articles are (not as Scrapy would): link texts become listing titles.
        html = decode_html(response.body, _charset(response), outlet.language or None).text
        feeds = [
            u
            for u in autodiscover_feeds(html, response.url)
            if is_own_domain(u, outlet.own_domains())
        ]
        if feeds:
            self.ctx.sources[source].pointer = True
            for url in feeds[:3]:
                yield from self.source_request(outlet, url, self.parse_feed)
            return
        # No feed: the robots.txt may name sitemaps, and the homepage's own links are scanned.
        yield from self.robots_request(outlet, response.url)
        links = self.heal.homepage_links(outlet, html, response.url)  # heal hook 4
        yield from self.article_requests(outlet, links, source)

    @tracked
    def heal_homepage(self, response: Response, outlet: Outlet) -> Iterator[scrapy.Request]:
        # heal hook 5: the fallback's homepage (announced feeds and article links)
        yield from self.heal.parse_homepage(self, response, outlet, _charset(response))

    @tracked
    def heal_robots(self, response: Response, outlet: Outlet) -> Iterator[scrapy.Request]:
        # heal hook 6: the fallback's robots.txt (the sitemaps it names)
        yield from self.heal.parse_robots(self, response, outlet)

    def robots_request(self, outlet: Outlet, homepage: str) -> Iterator[scrapy.Request]:
        robots = urljoin(homepage, "/robots.txt")
        yield from self.source_request(outlet, robots, self.parse_robots, optional=True)

    @tracked
    def parse_robots(self, response: Response, outlet: Outlet) -> Iterator[scrapy.Request]:
        self.ctx.runs[outlet.name].requests += _sent(response.meta)
        if response.status != 200 or not isinstance(response, TextResponse):
            return  # no robots.txt is no error
        for url in robots_sitemaps(response.text, response.url):
            if is_own_domain(url, outlet.own_domains()):
                yield from self.source_request(outlet, url, self.parse_sitemap)

    # -- articles ---------------------------------------------------------------------------

    def _recent(self, links: Iterable[Link]) -> list[Link]:
        return [lk for lk in links if lk.published is None or lk.published >= self.since]

    def article_requests(
        self, outlet: Outlet, links: list[Link], source: str
    ) -> Iterator[scrapy.Request]:
        run = self.ctx.runs[outlet.name]
        domains = outlet.own_domains()
        # heal hook 7: the outlet's one URL filter (article_pattern or learned templates) for
        # links of every source; it learns from feed and sitemap items as it goes
        links = self.heal.admit(outlet, links, source)
        fresh: dict[str, Link] = {}
        for link in self._recent(links):
            url = canonical_url(link.url, outlet.homepage)
            # An article listed by two sources of this pass (feed and sitemap) counts once.
            if url not in self.articles_requested and is_own_domain(url, domains):
                fresh.setdefault(url, link)
        run.discovered += len(fresh)
        seen = self.ctx.store.seen_urls(fresh)
        for url, link in fresh.items():
            if url in seen and not _updated_since(link, seen[url]):
                continue
            self.articles_requested.add(url)
            self.ctx.hold(outlet.name)
            yield scrapy.Request(
                url,
                callback=self.parse_article,
                errback=self.article_failed,
                meta={"outlet": outlet.name, "source": source, "own_domains": domains},
                cb_kwargs={"outlet": outlet, "link": link},
            )

    @tracked
    def parse_article(
        self, response: Response, outlet: Outlet, link: Link
    ) -> Iterator[ArticlePage]:
        run = self.ctx.runs[outlet.name]
        run.requests += _sent(response.meta)
        if not isinstance(response, TextResponse):
            self._article_error(response.meta, f"{response.url}: not an HTML page")
            return
        run.articles_ok += 1
        requested = response.request.url if response.request else response.url
        self.ctx.hold(outlet.name)  # until the pipelines are done with it (crawler/context.py)
        yield ArticlePage(
            url=canonical_url(requested, outlet.homepage),
            outlet=outlet.name,
            html=response.body,
            charset=_charset(response),
            response_url=response.url,
            fetched_at=utcnow(),
            feed_title=link.title,
            feed_published=link.published.isoformat() if link.published else None,
            aliases=sorted({canonical_url(u, outlet.homepage) for u in (response.url, link.url)}),
            language=outlet.language or None,
        )

    # -- errors -----------------------------------------------------------------------------

    def source_failed(self, failure: Failure) -> Iterator[scrapy.Request]:
        meta = failure.request.meta  # type: ignore[attr-defined]
        try:
            if not self.ctx.is_done(meta["outlet"]):
                self._source_failed(meta, failure)
                # heal hook 8: a configured source answering 404/410 starts the fallback
                outlet = self.ctx.config.outlet(meta["outlet"])
                yield from self.heal.source_failed(self, outlet, meta["source"], _status(failure))
        finally:
            self.ctx.release(meta["outlet"])

    def _source_failed(self, meta: dict[str, Any], failure: Failure) -> None:
        outlet = self.ctx.config.outlet(meta["outlet"])
        self.ctx.runs[outlet.name].requests += _sent(meta, failure)
        if meta.get("optional"):
            log.info(
                "Outlet %s: %s: %s (optional, ignored)", outlet.name, meta["source"], _why(failure)
            )
            return
        self._source_error(outlet, meta["source"], _why(failure))

    def _source_error(self, outlet: Outlet, url: str, why: str) -> None:
        run = self.ctx.runs[outlet.name]
        run.source_errors += 1
        run.errors.append(f"{url}: {why}")
        # A source that could not be read keeps no validators: a 304 next time would hide it.
        self.ctx.sources.pop(url, None)
        log.warning("Outlet %s: %s: %s", outlet.name, url, why)

    def article_failed(self, failure: Failure) -> None:
        meta = failure.request.meta  # type: ignore[attr-defined]
        try:
            if not self.ctx.is_done(meta["outlet"]):
                self._article_failed(meta, failure)
        finally:
            self.ctx.release(meta["outlet"])

    def _article_failed(self, meta: dict[str, Any], failure: Failure) -> None:
        url = failure.request.url  # type: ignore[attr-defined]
        run = self.ctx.runs[meta["outlet"]]
        run.requests += _sent(meta, failure)
        if _by_policy(failure):  # robots.txt or offsite: never fetched, not worth retrying
            run.skipped += 1
            log.info("Outlet %s: %s not fetched: %s", meta["outlet"], url, failure.value)
            return
        self._article_error(meta, f"{url}: {_why(failure)}", retry=not _permanent(failure))

    def _article_error(self, meta: dict[str, Any], why: str, retry: bool = True) -> None:
        run = self.ctx.runs[meta["outlet"]]
        run.article_errors += 1
        run.errors.append(why)
        state = self.ctx.sources.get(meta.get("source", ""))
        if state and retry:
            state.complete = False
        log.warning("Outlet %s: %s", meta["outlet"], why)

    # -- end --------------------------------------------------------------------------------

    def closed(self, reason: str) -> None:
        """Outlets still open are recorded now: done when the crawl finished, else
        interrupted (each finished outlet was recorded the moment it was done)."""
        self.ctx.close(reason)
        for line in summary_lines(list(self.ctx.runs.values())):
            log.info(line)


def outlet_names(arg: str | None) -> list[str] | None:
    """`-a outlets=a,b` as a list; None (every enabled outlet) when not given."""
    return [n.strip() for n in arg.split(",") if n.strip()] if arg else None


def _updated_since(link: Link, fetched_at: str) -> bool:
    """The listing says a stored article changed after we fetched it: fetch it again (the
    ingest stage updates the row and alerts only for topics it newly matches)."""
    if link.updated is None:
        return False
    fetched = parse_time(fetched_at)
    return fetched is not None and link.updated > fetched + timedelta(minutes=1)


def _parse_since(since: str | None, max_age_days: float) -> datetime:
    if since:
        moment = parse_time(since)
        if moment is None:
            raise ConfigError(f"-a since={since!r}: expected a date like 2026-01-01")
        return moment
    return datetime.now(UTC) - timedelta(days=max_age_days)


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def _charset(response: Response) -> str | None:
    """The charset of the Content-Type header, if any."""
    content_type = _header(response, b"Content-Type") or ""
    for param in content_type.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip(" \"'"):
            return value.strip(" \"'")
    return None


def _sent(meta: dict[str, Any], failure: Failure | None = None) -> int:
    """How many HTTP requests a response or failure stands for: its redirect hops and retries,
    or none for a request a middleware dropped before sending (robots.txt, offsite)."""
    if failure is not None and _by_policy(failure):
        return 0
    return 1 + int(meta.get("redirect_times", 0)) + int(meta.get("retry_times", 0))


def _by_policy(failure: Failure) -> bool:
    from scrapy.exceptions import IgnoreRequest

    exc, text = failure.value, str(failure.value)
    if isinstance(exc, OffsiteRedirect):  # the outlet moved somewhere: the operator must know
        return False
    return isinstance(exc, IgnoreRequest) and ("robots.txt" in text or "offsite" in text)


def _status(failure: Failure) -> int | None:
    from scrapy.spidermiddlewares.httperror import HttpError

    exc = failure.value
    return exc.response.status if isinstance(exc, HttpError) else None


def _permanent(failure: Failure) -> bool:
    from scrapy.spidermiddlewares.httperror import HttpError

    exc = failure.value
    return isinstance(exc, HttpError) and exc.response.status in PERMANENT_STATUSES


# Failures by exception class name (Scrapy 2.13+ and the Twisted ones older Scrapy raises), in
# words an operator reads in `balkanwatch status`.
_FAILURE_WORDS = {
    "CannotResolveHostError": "DNS lookup failed for {host}",
    "DNSLookupError": "DNS lookup failed for {host}",
    "DownloadConnectionRefusedError": "connection refused",
    "ConnectionRefusedError": "connection refused",
    "DownloadTimeoutError": "timed out after {timeout:g} s",
    "TimeoutError": "timed out after {timeout:g} s",
    "TCPTimedOutError": "timed out after {timeout:g} s",
    "ResponseDataLossError": "connection closed before the whole response arrived",
    "ResponseNeverReceived": "connection closed before any response",
    "ConnectionLost": "connection lost",
}
_MAXSIZE_RE = re.compile(r"larger than download max size \((\d+)\)")


def _why(failure: Failure) -> str:
    """A short reason for a failed request (no traceback, no URL credentials)."""
    from scrapy.spidermiddlewares.httperror import HttpError

    exc = failure.value
    if isinstance(exc, HttpError):
        return f"HTTP {exc.response.status}"
    if isinstance(exc, OffsiteRedirect):
        return str(exc)
    name = type(exc).__name__
    text = str(exc).strip()
    request = getattr(failure, "request", None)
    if name in _FAILURE_WORDS:
        host = urlsplit(request.url).hostname if request else "?"
        timeout = float(request.meta.get("download_timeout", 0)) if request else 0.0
        return _FAILURE_WORDS[name].format(host=host, timeout=timeout)
    if size := _MAXSIZE_RE.search(text):
        return f"larger than DOWNLOAD_MAXSIZE ({size.group(1)} bytes)"
    if "max redirections reached" in text:
        return "too many redirects (a redirect loop?)"
    return f"{name}: {text[:200]}" if text else name
