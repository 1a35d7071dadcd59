"""The Scrapy item pipelines: thin shells over the stage modules.

    ArticlePage --ExtractPipeline--> Document --IngestPipeline--> stored, matched, queued
                                                        (alerts delivered when the crawl ends)

Extraction runs in a pool of worker processes: trafilatura is CPU-bound and not thread-safe, and
on the reactor thread it would stall every download for ~40 ms per page.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from typing import Any

from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from balkanwatch.config import Outlet
from crawler.items import ArticlePage
from crawler.urls import canonical_url, is_own_domain
from pipelines.alerts import Deliverer
from pipelines.ingest import Document, Ingester

# Heavy stages (trafilatura, the MinHash index) are loaded on the first article, not at start: a
# poll that finds nothing new (the common case, every few minutes) then costs little CPU.

log = logging.getLogger(__name__)


def _extract_in_worker(html: bytes, encoding: str | None, url: str) -> dict[str, Any] | None:
    """Runs in a worker process; returns plain data so it pickles cheaply."""
    from pipelines.extract import extract_article

    if encoding:
        try:
            markup: str | bytes = html.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            markup = html
    else:
        markup = html
    result = extract_article(markup, url)
    return asdict(result) if result else None


def to_document(page: ArticlePage, ex: Any, outlet: Outlet) -> Document:
    """Join what the page said about itself with what the feed said about it."""
    url = page.url
    aliases = set(page.aliases) | {page.url}
    if ex.canonical_url:
        declared = canonical_url(ex.canonical_url, outlet.homepage)
        # A page may only claim a canonical URL on its own outlet's domains.
        if is_own_domain(declared, outlet.own_domains()):
            url = declared
    aliases.discard(url)
    title = ex.title or page.feed_title
    text = ex.text
    if not ex.title and page.feed_title:
        text = f"{page.feed_title}\n{ex.body}"
    return Document(
        url=url,
        outlet=page.outlet,
        title=title,
        text=text,
        body=ex.body,
        published=ex.published or page.feed_published,
        language=ex.language,
        author=ex.author,
        sitename=ex.sitename,
        aliases=tuple(sorted(aliases)),
        fetched_at=page.fetched_at,
    )


class ExtractPipeline:
    """ArticlePage -> Document, extracted with trafilatura in worker processes."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.pool: ProcessPoolExecutor | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ExtractPipeline:
        workers = crawler.settings.getint("EXTRACT_WORKERS") or (os.cpu_count() or 1)
        return cls(workers)

    def open_spider(self, spider: Spider) -> None:
        self.spider = spider

    def _pool(self) -> ProcessPoolExecutor:
        if self.pool is None:
            # forkserver: workers start from a clean process, not a fork of the reactor's
            # state; they import trafilatura once and keep it.
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["pipelines.extract"])
            self.pool = ProcessPoolExecutor(self.workers, mp_context=ctx)
        return self.pool

    def close_spider(self, spider: Spider) -> None:
        if self.pool:
            self.pool.shutdown(wait=True, cancel_futures=True)

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticlePage):
            return item
        future = self._pool().submit(
            _extract_in_worker, item.html, item.encoding, item.response_url
        )
        data = await asyncio.wrap_future(future)
        if data is None:
            self.spider.runs[item.outlet].errors.append(f"{item.url}: no article text")  # type: ignore[attr-defined]
            raise DropItem(f"No article text in {item.url}")
        outlet = self.spider.config.outlet(item.outlet)  # type: ignore[attr-defined]
        from pipelines.extract import Extracted

        return to_document(item, Extracted(**data), outlet)


class IngestPipeline:
    """Document -> stored article with its story, matches and queued alerts; delivers at the end."""

    def open_spider(self, spider: Spider) -> None:
        self.spider = spider
        self.store = spider.store  # type: ignore[attr-defined]
        self.deliverer = Deliverer(self.store, spider.config)  # type: ignore[attr-defined]
        self._ingester: Ingester | None = None

    @property
    def ingester(self) -> Ingester:
        if self._ingester is None:
            from pipelines.ingest import build_index
            from pipelines.topics import TopicMatcher

            config = self.spider.config  # type: ignore[attr-defined]
            index = build_index(self.store, window_days=config.settings.dedup_window_days)
            self._ingester = Ingester(self.store, config, TopicMatcher(config.topics), index)
        return self._ingester

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, Document):
            return item
        result = self.ingester.ingest(item)
        run = self.spider.runs[item.outlet]  # type: ignore[attr-defined]
        if result.status in ("new", "duplicate"):
            run.new_articles += 1
        run.matched += bool(result.topics)
        run.alerted += result.alerts_queued
        log.info(
            "Stored %s (%s, story %s)%s",
            result.status,
            item.url,
            result.story_id,
            f" matched {', '.join(result.topics)}" if result.topics else "",
        )
        return {"url": item.url, "status": result.status, "topics": result.topics}

    async def close_spider(self, spider: Spider) -> None:
        report = await self.deliverer.deliver_due()
        if report.attempted:
            log.info("Alerts: %s", report)
