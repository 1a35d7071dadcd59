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
import pickle
import time
from concurrent.futures import ProcessPoolExecutor
from types import SimpleNamespace
from typing import Any

from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from balkanwatch.analysis.urls import canonical_url, is_own_domain
from balkanwatch.core.config import Outlet
from balkanwatch.core.document import Document, seed_text
from balkanwatch.delivery.alerts import Deliverer
from crawler.context import CrawlContext, context_of
from crawler.items import ArticlePage
from crawler.runs import INTERRUPTED
from pipelines.extract_worker import PRELOAD, extract_in_worker
from pipelines.ingest import Ingester, IngestResult
from pipelines.outlet_hints import OutletHints
from pipelines.stages import STAGES

# Heavy stages (trafilatura, the MinHash index) are loaded on the first article, not at start: a
# poll that finds nothing new (the common case, every few minutes) then costs little CPU.

log = logging.getLogger(__name__)


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
        text = seed_text(page.feed_title, ex.body)
    return Document(
        url=url,
        outlet=page.outlet,
        title=title,
        text=text,
        body=ex.body,
        published=ex.published or page.feed_published,
        language=ex.language or outlet.language or None,  # the page's own language wins
        author=ex.author,
        sitename=ex.sitename,
        aliases=tuple(sorted(aliases)),
        fetched_at=page.fetched_at,
        # issue 18: what the next crawl learns the outlet's title affix and furniture from
        page_title=ex.page_title,
        script=ex.script,
        furniture=tuple(ex.furniture),
    )


class ExtractPipeline:
    """ArticlePage -> Document, extracted with trafilatura in worker processes."""

    def __init__(self, ctx: CrawlContext, workers: int) -> None:
        self.ctx = ctx
        self.workers = workers
        self.pool: ProcessPoolExecutor | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ExtractPipeline:
        workers = crawler.settings.getint("EXTRACT_WORKERS") or (os.cpu_count() or 1)
        return cls(context_of(crawler), workers)

    def open_spider(self, spider: Spider | None = None) -> None:  # Scrapy < 2.14 passes it
        # issue 18: the outlet's title, stored <title>s and furniture, learned once per crawl
        self.hints = OutletHints(self.ctx.store)

    def _pool(self) -> ProcessPoolExecutor:
        if self.pool is None:
            # forkserver: workers start from a clean process, not a fork of the reactor's
            # state; they import trafilatura once and keep it.
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(PRELOAD)
            self.pool = ProcessPoolExecutor(self.workers, mp_context=ctx)
        return self.pool

    def close_spider(self, spider: Spider | None = None) -> None:  # Scrapy < 2.14 passes it
        if self.pool:
            self.pool.shutdown(wait=True, cancel_futures=True)

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticlePage):
            return item
        if self.ctx.is_done(item.outlet):  # timed out or interrupted: recorded without it
            raise DropItem(f"{item.url}: the outlet's crawl had ended", log_level="DEBUG")
        outlet = self.ctx.config.outlet(item.outlet)
        with STAGES("send"):
            payload = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
            # issue 18: the outlet's title, stored <title>s and furniture, learned once per crawl
            hints = self.hints.of(outlet).arguments()
            future = self._pool().submit(extract_in_worker, payload, hints)
        waited = time.perf_counter()
        data, decoding, times = await asyncio.wrap_future(future)
        STAGES.add("wait", time.perf_counter() - waited, 0.0)
        STAGES.merge(times, "worker/")
        if decoding:
            log.info("Outlet %s: %s: %s", item.outlet, item.url, decoding)
        if data is None:
            self.ctx.runs[item.outlet].errors.append(f"{item.url}: no article text")
            raise DropItem(f"No article text in {item.url}")
        with STAGES("document"):
            # Extracted's fields, without importing extract.py (and trafilatura, lxml) here
            return to_document(item, SimpleNamespace(**data), outlet)


BATCH_SIZE = 32  # articles per write transaction
BATCH_DELAY = 0.05  # seconds an article waits for others to share its transaction


class IngestPipeline:
    """Document -> stored article with its story, matches and queued alerts; delivers at the end.

    Articles arriving together are written in one transaction (each in a savepoint of its own, so
    a bad one leaves the others): fewer commits, and an article is reported stored only once its
    transaction has committed. A crash loses at most the batch in flight, which is fetched again
    on the next poll since nothing of it reached the seen-set.
    """

    def __init__(self, ctx: CrawlContext) -> None:
        self.ctx = ctx
        self.crawler: Crawler | None = None
        self.store = ctx.store
        self.deliverer = Deliverer(self.store, ctx.config)
        self._ingester: Ingester | None = None
        self.batch: list[tuple[Document, asyncio.Future[IngestResult]]] = []
        self._timer: asyncio.TimerHandle | None = None
        # An outlet's record counts what the batch in flight stores: flushed before it is written.
        ctx.before_finish.append(lambda outlet: self.flush())

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> IngestPipeline:
        pipeline = cls(context_of(crawler))
        pipeline.crawler = crawler  # for the stage report at the end (Scrapy stats)
        return pipeline

    @property
    def ingester(self) -> Ingester:
        if self._ingester is None:
            from balkanwatch.analysis.topics import TopicMatcher
            from pipelines.ingest import build_index

            config = self.ctx.config
            index = build_index(self.store, window_days=config.settings.dedup_window_days)
            self._ingester = Ingester(self.store, config, TopicMatcher(config.topics), index)
        return self._ingester

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, Document):
            return item
        if self.ctx.is_done(item.outlet):
            raise DropItem(f"{item.url}: the outlet's crawl had ended", log_level="DEBUG")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[IngestResult] = loop.create_future()
        self.batch.append((item, future))
        if len(self.batch) >= BATCH_SIZE:
            self.flush()
        elif self._timer is None:
            self._timer = loop.call_later(BATCH_DELAY, self.flush)
        result = await future
        return {
            "url": item.url,
            "outlet": item.outlet,
            "status": result.status,
            "topics": result.topics,
        }

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self.batch = self.batch, []
        if not batch:
            return
        outcomes: list[IngestResult | BaseException] = []
        try:
            with STAGES("batch"), self.store.transaction():
                for doc, _ in batch:
                    try:
                        with self.store.savepoint():  # one article can fail alone
                            outcomes.append(self.ingester.ingest(doc))
                    except Exception as e:
                        outcomes.append(e)
        except Exception as e:  # the commit itself failed: nothing of the batch is stored
            outcomes = [e] * len(batch)
        for (doc, future), outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                self._count(doc, outcome)  # now: the outlet's record may be written next
                future.set_result(outcome)

    def _count(self, item: Document, result: IngestResult) -> None:
        run = self.ctx.runs[item.outlet]
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

    async def close_spider(self, spider: Spider | None = None) -> None:
        self.flush()
        if any(run.ended == INTERRUPTED for run in self.ctx.runs.values()):
            return  # stopped: no new work; the daemon (or the next crawl) delivers the queue
        with STAGES("deliver"):
            report = await self.deliverer.deliver_due()
        if report.attempted:
            log.info("Alerts: %s", report)
        if self.crawler is not None:
            STAGES.report(self.crawler.stats, self.crawler.settings.get("STAGE_REPORT"))
