"""An outlet's downloads end with its crawl: at its deadline, or when the crawl is stopped.

Scrapy's own DOWNLOAD_TIMEOUT bounds one request; a site that sends a byte every few seconds, or
a queue of hundreds of articles behind a slow host, would still hold the crawl (and Scrapy's
shutdown, which waits for every download in flight) for far longer. Here every request of an
outlet races against the outlet's end (`CrawlContext.cut_future`): once the outlet is done its
downloads in flight are cancelled (the connection is closed), its queued requests are dropped
and new ones never reach a download slot. The requests Scrapy makes by itself (robots.txt) end
when every outlet on their host has ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from scrapy import Request
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from twisted.python.failure import Failure

from balkanwatch.analysis.urls import is_own_domain
from crawler.context import CrawlContext, context_of

log = logging.getLogger(__name__)


class OutletStopped(IgnoreRequest):
    """The outlet's crawl ended (deadline or shutdown) before this request was done."""


def _stopped(request: Request) -> OutletStopped:
    return OutletStopped(f"{request.url}: not fetched, the outlet's crawl had ended")


class OutletDeadlineMiddleware:
    """Downloader middleware: a request of an outlet that is done never reaches a slot; when an
    outlet ends, its requests waiting in a slot (behind a download delay) are dropped."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        context_of(crawler).before_finish.append(self.drop_queued)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> OutletDeadlineMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        name = request.meta.get("outlet")
        if name and context_of(self.crawler).is_done(name):
            raise _stopped(request)

    def drop_queued(self, name: str) -> None:
        engine = getattr(self.crawler, "_engine", None)
        downloader = getattr(engine, "downloader", None)
        # Scrapy's download slots keep (request, deferred) pairs in `queue`; a pair removed here
        # fails at once instead of waiting its turn.
        for slot in getattr(downloader, "slots", {}).values():
            queue = getattr(slot, "queue", None)
            if not queue:
                continue
            for pair in [p for p in queue if p[0].meta.get("outlet") == name]:
                queue.remove(pair)
                pair[1].errback(Failure(_stopped(pair[0])))


class OutletDownloadHandler(HTTP11DownloadHandler):
    """Scrapy's HTTP/1.1 handler, each download raced against the end of its outlet."""

    lazy = False

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.crawler = crawler

    async def download_request(self, request: Request) -> Response:
        ctx = context_of(self.crawler)
        ends = self._ends(ctx, request)
        if ends is None:
            return await super().download_request(request)
        if ends.done():
            raise _stopped(request)
        task: asyncio.Future[Response] = asyncio.ensure_future(super().download_request(request))
        await asyncio.wait({task, ends}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            return task.result()
        task.cancel()  # cancels the Twisted download: the connection is closed
        with contextlib.suppress(BaseException):
            await task
        raise _stopped(request)

    def _ends(self, ctx: CrawlContext, request: Request) -> asyncio.Future[Any] | None:
        name = request.meta.get("outlet")
        if name in ctx.tracks:
            return ctx.cut_future(name)
        # A request of Scrapy's own (robots.txt): it ends with the last outlet on its host.
        owners = [o.name for o in ctx.targets if is_own_domain(request.url, o.own_domains())]
        if not owners:
            return None
        return asyncio.gather(*(ctx.cut_future(n) for n in owners))
