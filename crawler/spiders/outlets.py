"""The `outlets` spider: one pass over the configured outlets, finding and fetching new articles.

A thin Scrapy shell: which URLs to follow is decided by pure functions (`crawler.discovery`,
`crawler.urls`), what is already stored by the database's seen-set, and everything after the
fetch by the item pipelines. Arguments: `-a outlets=a,b` restricts the pass, `-a since=2026-01-01`
backfills feed and sitemap items older than the configured maximum age.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin

import scrapy
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from balkanwatch.config import Config, ConfigError, Outlet, load_config
from crawler.discovery import (
    DiscoveryError,
    Link,
    autodiscover_feeds,
    parse_feed,
    parse_sitemap,
    robots_sitemaps,
    scan_article_links,
)
from crawler.items import ArticlePage
from crawler.urls import canonical_url, is_own_domain
from pipelines.store import Store, utcnow

log = logging.getLogger(__name__)


@dataclass
class OutletRun:
    """What one pass did for one outlet; written to the `crawls` table at the end."""

    outlet: str
    started_at: str = field(default_factory=utcnow)
    discovered: int = 0
    new_articles: int = 0
    matched: int = 0
    alerted: int = 0
    requests: int = 0
    not_modified: int = 0
    sources_ok: int = 0
    errors: list[str] = field(default_factory=list)
    source_errors: int = 0

    @property
    def status(self) -> str:
        return "error" if self.source_errors and not self.sources_ok else "ok"


@dataclass
class SourceState:
    """A feed, sitemap or homepage fetched this pass; its validators are saved only if every
    article it led to was fetched, so a failed article is retried on the next poll."""

    outlet: str
    etag: str | None = None
    last_modified: str | None = None
    complete: bool = True


class OutletsSpider(scrapy.Spider):
    name = "outlets"

    def __init__(self, outlets: str | None = None, since: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config: Config = load_config()
        names = [n.strip() for n in outlets.split(",") if n.strip()] if outlets else None
        self.targets: list[Outlet] = self.config.enabled_outlets(names)
        self.since = _parse_since(since, self.config.settings.max_age_days)
        self.allowed_domains = sorted({d for o in self.targets for d in o.own_domains()})
        self.store = Store(self.config.database)
        self.runs: dict[str, OutletRun] = {o.name: OutletRun(o.name) for o in self.targets}
        self.sources: dict[str, SourceState] = {}

    @classmethod
    def update_settings(cls, settings: Any) -> None:
        """settings.yaml's user agent and log level, below anything given with -s."""
        super().update_settings(settings)
        try:
            cfg = load_config()
        except ConfigError:
            return  # reported by __init__, where Scrapy shows it as the spider's error
        settings.set("USER_AGENT", cfg.settings.user_agent, priority="project")
        settings.set("LOG_LEVEL", cfg.settings.log_level, priority="project")

    # -- start ------------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for outlet in self.targets:
            for req in self.source_requests(outlet):
                yield req

    def source_requests(self, outlet: Outlet) -> Iterator[scrapy.Request]:
        for url in outlet.feeds:
            yield self.source_request(outlet, url, self.parse_feed)
        for url in outlet.sitemaps:
            yield self.source_request(outlet, url, self.parse_sitemap)
        if not outlet.feeds and not outlet.sitemaps:
            yield self.source_request(outlet, outlet.homepage, self.parse_homepage)

    def source_request(
        self, outlet: Outlet, url: str, callback: Any, optional: bool = False
    ) -> scrapy.Request:
        """A feed, sitemap or homepage request, conditional on the validators stored for it."""
        headers = {}
        saved = self.store.validators(url)
        if saved:
            if saved["etag"]:
                headers["If-None-Match"] = saved["etag"]
            if saved["last_modified"]:
                headers["If-Modified-Since"] = saved["last_modified"]
        self.runs[outlet.name].requests += 1
        return scrapy.Request(
            url,
            callback=callback,
            errback=self.source_failed,
            headers=headers,
            dont_filter=True,
            meta={
                "outlet": outlet.name,
                "source": url,
                # an optional source (robots.txt) that is missing is not an outlet error
                "handle_httpstatus_list": [304, 404, 410] if optional else [304],
            },
            cb_kwargs={"outlet": outlet},
        )

    # -- sources ----------------------------------------------------------------------------

    def _source_response(self, response: Response, outlet: Outlet) -> bool:
        """Book-keeping common to every source; False when there is nothing to parse."""
        run = self.runs[outlet.name]
        if response.status == 304:
            run.not_modified += 1
            run.sources_ok += 1
            return False
        self.sources[response.meta["source"]] = SourceState(
            outlet.name,
            _header(response, b"ETag"),
            _header(response, b"Last-Modified"),
        )
        return True

    def parse_feed(self, response: Response, outlet: Outlet) -> Iterator[scrapy.Request]:
        if not self._source_response(response, outlet):
            return
        try:
            links = parse_feed(response.body, response.url)
        except DiscoveryError as e:
            self._source_error(outlet, response.url, f"malformed feed: {e}")
            return
        self.runs[outlet.name].sources_ok += 1
        yield from self.article_requests(outlet, links, response.meta["source"])

    def parse_sitemap(self, response: Response, outlet: Outlet) -> Iterator[scrapy.Request]:
        if not self._source_response(response, outlet):
            return
        try:
            sitemap = parse_sitemap(response.body)
        except DiscoveryError as e:
            self._source_error(outlet, response.url, f"malformed sitemap: {e}")
            return
        self.runs[outlet.name].sources_ok += 1
        if sitemap.kind == "sitemapindex":
            for child in self._recent(sitemap.links):
                if is_own_domain(child.url, outlet.own_domains()):
                    yield self.source_request(outlet, child.url, self.parse_sitemap)
            return
        yield from self.article_requests(outlet, sitemap.links, response.meta["source"])

    def parse_homepage(self, response: Response, outlet: Outlet) -> Iterator[scrapy.Request]:
        if not self._source_response(response, outlet):
            return
        if not isinstance(response, TextResponse):
            self._source_error(outlet, response.url, "homepage is not HTML")
            return
        self.runs[outlet.name].sources_ok += 1
        feeds = [
            u
            for u in autodiscover_feeds(response.text, response.url)
            if is_own_domain(u, outlet.own_domains())
        ]
        if feeds:
            for url in feeds[:3]:
                yield self.source_request(outlet, url, self.parse_feed)
            return
        # No feed: the robots.txt may name sitemaps, and the homepage's own links are scanned.
        robots = urljoin(response.url, "/robots.txt")
        yield self.source_request(outlet, robots, self.parse_robots, optional=True)
        links = scan_article_links(
            response.text, response.url, outlet.own_domains(), outlet.article_pattern
        )
        yield from self.article_requests(outlet, links, response.meta["source"])

    def parse_robots(self, response: Response, outlet: Outlet) -> Iterator[scrapy.Request]:
        if response.status != 200 or not isinstance(response, TextResponse):
            return  # no robots.txt is no error
        for url in robots_sitemaps(response.text, response.url):
            if is_own_domain(url, outlet.own_domains()):
                yield self.source_request(outlet, url, self.parse_sitemap)

    # -- articles ---------------------------------------------------------------------------

    def _recent(self, links: Iterable[Link]) -> list[Link]:
        return [lk for lk in links if lk.published is None or lk.published >= self.since]

    def article_requests(
        self, outlet: Outlet, links: list[Link], source: str
    ) -> Iterator[scrapy.Request]:
        run = self.runs[outlet.name]
        domains = outlet.own_domains()
        fresh: dict[str, Link] = {}
        for link in self._recent(links):
            url = canonical_url(link.url, outlet.homepage)
            if is_own_domain(url, domains):
                fresh.setdefault(url, link)
        run.discovered += len(fresh)
        seen = self.store.seen_urls(fresh)
        for url, link in fresh.items():
            if url in seen:
                continue
            run.requests += 1
            yield scrapy.Request(
                url,
                callback=self.parse_article,
                errback=self.article_failed,
                meta={"outlet": outlet.name, "source": source},
                cb_kwargs={"outlet": outlet, "link": link},
            )

    def parse_article(
        self, response: Response, outlet: Outlet, link: Link
    ) -> Iterator[ArticlePage]:
        if not isinstance(response, TextResponse):
            self._article_error(response.meta, f"{response.url}: not an HTML page")
            return
        requested = response.request.url if response.request else response.url
        yield ArticlePage(
            url=canonical_url(requested, outlet.homepage),
            outlet=outlet.name,
            html=response.body,
            encoding=response.encoding,
            response_url=response.url,
            fetched_at=utcnow(),
            feed_title=link.title,
            feed_published=link.published.isoformat() if link.published else None,
            aliases=sorted(
                {canonical_url(u, outlet.homepage) for u in (response.url, link.url)}
            ),
        )

    # -- errors -----------------------------------------------------------------------------

    def source_failed(self, failure: Failure) -> None:
        meta = failure.request.meta  # type: ignore[attr-defined]
        self._source_error(self.config.outlet(meta["outlet"]), meta["source"], _why(failure))

    def _source_error(self, outlet: Outlet, url: str, why: str) -> None:
        run = self.runs[outlet.name]
        run.source_errors += 1
        run.errors.append(f"{url}: {why}")
        log.warning("Outlet %s: %s: %s", outlet.name, url, why)

    def article_failed(self, failure: Failure) -> None:
        meta = failure.request.meta  # type: ignore[attr-defined]
        self._article_error(meta, f"{failure.request.url}: {_why(failure)}")  # type: ignore[attr-defined]

    def _article_error(self, meta: dict[str, Any], why: str) -> None:
        self.runs[meta["outlet"]].errors.append(why)
        state = self.sources.get(meta.get("source", ""))
        if state:
            state.complete = False
        log.warning("Outlet %s: %s", meta["outlet"], why)

    # -- end --------------------------------------------------------------------------------

    def closed(self, reason: str) -> None:
        finished = utcnow()
        with self.store.transaction():
            if reason == "finished":
                for url, state in self.sources.items():
                    if state.complete and (state.etag or state.last_modified):
                        self.store.save_validators(url, state.etag, state.last_modified)
            for run in self.runs.values():
                error = "; ".join(run.errors)[:2000] or None
                if reason != "finished":
                    error = f"crawl stopped: {reason}" + (f"; {error}" if error else "")
                self.store.record_crawl(
                    {
                        "outlet": run.outlet,
                        "started_at": run.started_at,
                        "finished_at": finished,
                        "status": run.status if reason == "finished" else "error",
                        "error": error,
                        "discovered": run.discovered,
                        "new_articles": run.new_articles,
                        "requests": run.requests,
                        "not_modified": run.not_modified,
                        "matched": run.matched,
                    }
                )
        for line in summary_lines(list(self.runs.values())):
            log.info(line)
        for run in self.runs.values():  # one machine-readable line per outlet, for the daemon log
            log.info(
                "crawl-result %s status=%s discovered=%d new=%d matched=%d alerts=%d requests=%d"
                " not_modified=%d errors=%d",
                run.outlet,
                run.status,
                run.discovered,
                run.new_articles,
                run.matched,
                run.alerted,
                run.requests,
                run.not_modified,
                len(run.errors),
            )


def summary_lines(runs: list[OutletRun]) -> list[str]:
    """The per-outlet table an operator reads at the end of a manual crawl."""
    head = f"{'outlet':<24} {'status':<6} {'found':>6} {'new':>5} {'matched':>7} {'alerts':>6}"
    lines = ["Crawl summary:", head]
    for r in runs:
        lines.append(
            f"{r.outlet:<24} {r.status:<6} {r.discovered:>6} {r.new_articles:>5}"
            f" {r.matched:>7} {r.alerted:>6}" + (f"  errors: {len(r.errors)}" if r.errors else "")
        )
    return lines


def _parse_since(since: str | None, max_age_days: float) -> datetime:
    if since:
        try:
            moment = datetime.fromisoformat(since)
        except ValueError:
            raise ConfigError(f"-a since={since!r}: expected a date like 2026-01-01") from None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return datetime.now(UTC) - timedelta(days=max_age_days)


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def _why(failure: Failure) -> str:
    """A short reason for a failed request (no traceback, no URL credentials)."""
    from scrapy.spidermiddlewares.httperror import HttpError

    exc = failure.value
    if isinstance(exc, HttpError):
        return f"HTTP {exc.response.status}"
    name = type(exc).__name__
    text = str(exc).strip()
    return f"{name}: {text[:200]}" if text else name
