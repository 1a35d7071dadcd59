"""One configuration per crawl process, handed to every Scrapy component through the crawler.

The `Balkanwatch` add-on loads the configuration once per process (`process_config`), puts the
crawl-related keys of settings.yaml into Scrapy's settings where Scrapy still reads them, and
builds one `CrawlContext` per crawler; the spider and the pipelines reach it with
`context_of(crawler)`, never through attributes of the spider.

The context also keeps each outlet's account: requests and items in flight, its own deadline
(`OUTLET_TIMEOUT`, and `CRAWL_DEADLINE` for the whole crawl when the daemon sets one), and its
record, committed to the `crawls` table the moment the outlet is done, timed out or interrupted,
not when the process exits: a child killed later loses nothing of the outlets it finished.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import sys
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.settings import BaseSettings

from balkanwatch.core.config import Config, ConfigError, Outlet, load_config
from balkanwatch.core.secrets import mask_secrets
from balkanwatch.core.times import utcnow
from balkanwatch.storage.store import Store
from crawler.politeness import FIXED_HOSTS, slot_settings
from crawler.runs import INTERRUPTED, OK, TIMEOUT, OutletRun, SourceState, outcome_line

log = logging.getLogger(__name__)

WATCH_EVERY = 0.25  # seconds between checks of the deadlines and of a requested shutdown

_config: Config | None = None
_contexts: weakref.WeakKeyDictionary[Crawler, CrawlContext] = weakref.WeakKeyDictionary()


def process_config() -> Config:
    """The configuration of this process, loaded on first use and kept: every component of
    the crawl sees the same one (in a daemon's child, the snapshot the daemon runs on)."""
    global _config
    if _config is None:
        _config = load_config()
    return _config


def context_of(crawler: Crawler) -> CrawlContext:
    """The crawler's context, built on first use (Scrapy creates the spider before it runs the
    add-ons' update_settings, so whichever asks first builds it)."""
    ctx = _contexts.get(crawler)
    if ctx is None:
        ctx = _contexts[crawler] = _build(crawler)
    return ctx


def _build(crawler: Crawler) -> CrawlContext:
    settings = crawler.settings
    ctx = CrawlContext(
        _config_or_exit(), settings.getfloat("OUTLET_TIMEOUT"), settings.getfloat("CRAWL_DEADLINE")
    )
    events = _Events(crawler, ctx)
    sig = crawler.signals
    sig.connect(events.spider_opened, signals.spider_opened)
    sig.connect(events.request_dropped, signals.request_dropped)
    for item_signal in (signals.item_scraped, signals.item_dropped, signals.item_error):
        sig.connect(events.item_done, item_signal)
    ctx.events = events  # the signal manager keeps weak references only
    # A signal during start-up can stop the reactor before the spider is closed: the outlets
    # still get their record (interrupted) when the process exits.
    atexit.register(ctx.close, "shutdown")
    return ctx


def apply_settings(settings: BaseSettings, config: Config) -> None:
    """settings.yaml's crawl keys as Scrapy settings, below anything given with -s."""
    s = config.settings
    settings.set("USER_AGENT", s.user_agent, priority="addon")
    settings.set("LOG_LEVEL", s.log_level, priority="addon")
    settings.set("OUTLET_TIMEOUT", s.outlet_timeout, priority="addon")
    slots = slot_settings(config)
    if slots:
        merged = {**slots, **settings.getdict("DOWNLOAD_SLOTS")}  # explicit -s settings win
        settings.set("DOWNLOAD_SLOTS", merged, priority="addon")
        fixed = sorted(h for h, e in slots.items() if "delay" in e)
        settings.set(FIXED_HOSTS, fixed, priority="addon")


@dataclass
class Track:
    """An outlet's progress inside the crawl."""

    pending: int = 0  # requests and items of the outlet not yet done with
    started: float | None = None  # time.monotonic() when its first source was sent
    done: bool = False
    cut: asyncio.Future[None] | None = None  # resolved when the outlet is done: stops downloads


class CrawlContext:
    """The configuration, the store and every outlet's account, for one crawler."""

    def __init__(self, config: Config, outlet_timeout: float = 0, crawl_deadline: float = 0):
        self.config = config
        self.store = Store(config.database)
        self.outlet_timeout = outlet_timeout  # 0: none
        self.crawl_deadline = crawl_deadline  # epoch seconds when every outlet is cut; 0: none
        self.opened = time.monotonic()
        self.opened_at = time.time()
        self.targets: list[Outlet] = []
        self.runs: dict[str, OutletRun] = {}
        self.tracks: dict[str, Track] = {}
        self.sources: dict[str, SourceState] = {}
        # Called before an outlet's record is written: the ingest batch is flushed, queued
        # downloads of the outlet are dropped (see crawler.deadline).
        self.before_finish: list[Callable[[str], None]] = []
        self.watchdog: asyncio.Task[None] | None = None
        self.events: object = None

    def select(self, names: list[str] | None) -> list[Outlet]:
        self.targets = self.config.enabled_outlets(names)
        self.runs = {o.name: OutletRun(o.name) for o in self.targets}
        self.tracks = {o.name: Track() for o in self.targets}
        return self.targets

    # -- an outlet's account ---------------------------------------------------------------

    def begin(self, name: str) -> None:
        self.tracks[name].started = time.monotonic()
        self.runs[name].started_at = utcnow()

    def is_done(self, name: str) -> bool:
        track = self.tracks.get(name)
        return track is None or track.done

    def hold(self, name: str) -> None:
        self.tracks[name].pending += 1

    def release(self, name: str) -> None:
        track = self.tracks.get(name)
        if track is None or track.done:
            return
        track.pending -= 1
        if track.pending <= 0 and track.started is not None:
            self.finish(name)

    def cut_future(self, name: str) -> asyncio.Future[None]:
        track = self.tracks[name]
        if track.cut is None:
            track.cut = asyncio.get_running_loop().create_future()
            if track.done:
                track.cut.set_result(None)
        return track.cut

    def finish(self, name: str, ended: str | None = None, why: str = "") -> None:
        """Close the outlet's account and commit its record (and its sources' validators)."""
        track, run = self.tracks[name], self.runs[name]
        if track.done:
            return
        track.done = True
        if track.cut is not None and not track.cut.done():
            track.cut.set_result(None)
        for hook in self.before_finish:
            hook(name)
        run.ended, run.ended_why = ended, why
        row = run.record()
        with self.store.transaction():
            self.store.record_crawl(row)
            if ended is None:
                self._save_validators(name)
        if row["status"] == OK:
            log.info(outcome_line(row))
        else:
            log.warning(outcome_line(row))

    def _save_validators(self, name: str) -> None:
        for url, state in self.sources.items():
            if state.outlet != name or state.pointer or not state.complete:
                continue
            if state.etag or state.last_modified:
                self.store.save_validators(url, state.etag, state.last_modified)

    # -- deadlines and shutdown ------------------------------------------------------------

    @property
    def crawl_seconds(self) -> float:
        return self.crawl_deadline - self.opened_at

    def check(self, now: float, stopping: bool) -> None:
        """Cut the outlets past their deadline; every unfinished one when the crawl stops."""
        whole = self.crawl_deadline and time.time() >= self.crawl_deadline
        for name, track in self.tracks.items():
            if track.done:
                continue
            if stopping:
                self.finish(name, INTERRUPTED, "interrupted: the crawl was stopped")
            elif whole:
                why = f"timed out: the crawl ran out of time ({self.crawl_seconds:.0f} s)"
                self.finish(name, TIMEOUT, why)
            elif (
                self.outlet_timeout
                and track.started is not None
                and now - track.started >= self.outlet_timeout
            ):
                self.finish(name, TIMEOUT, f"timed out after {self.outlet_timeout:g} s")

    async def watch(self, crawler: Crawler) -> None:
        # `crawler.crawling` turns False as soon as a shutdown starts (SIGINT/SIGTERM), before
        # Scrapy waits for the downloads in flight: the outlets are recorded and cut at once.
        while True:
            try:
                self.check(time.monotonic(), stopping=not crawler.crawling)
            except Exception:
                log.exception("Checking the outlets' deadlines failed")
            await asyncio.sleep(WATCH_EVERY)

    def close(self, reason: str) -> None:
        if self.watchdog is not None:
            self.watchdog.cancel()
        for name, track in self.tracks.items():
            if not track.done:
                if reason == "finished":
                    self.finish(name)
                else:
                    self.finish(name, INTERRUPTED, f"interrupted: the crawl was stopped ({reason})")


def _outlet_of(item: Any) -> str | None:
    if isinstance(item, dict):
        return item.get("outlet")
    return getattr(item, "outlet", None)


class _Events:
    """The crawler's signals that move the outlets' accounts."""

    def __init__(self, crawler: Crawler, ctx: CrawlContext) -> None:
        self.crawler, self.ctx = crawler, ctx

    def spider_opened(self) -> None:
        self.ctx.opened = time.monotonic()
        self.ctx.watchdog = asyncio.get_running_loop().create_task(self.ctx.watch(self.crawler))

    def request_dropped(self, request: Any) -> None:
        """The scheduler refused a request (a duplicate): it will never reach a callback."""
        if name := request.meta.get("outlet"):
            self.ctx.release(name)

    def item_done(self, item: Any) -> None:
        if name := _outlet_of(item):
            self.ctx.release(name)


class Balkanwatch:
    """Scrapy add-on: settings.yaml's crawl keys into Scrapy's settings, and the crawl's
    context (`context_of`)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Balkanwatch:
        return cls(crawler)

    @classmethod
    def update_pre_crawler_settings(cls, settings: BaseSettings) -> None:
        """Before Scrapy configures logging: the log level applies from the first line."""
        apply_settings(settings, _config_or_exit())

    def update_settings(self, settings: BaseSettings) -> None:
        apply_settings(settings, _config_or_exit())
        context_of(self.crawler)


def _config_or_exit() -> Config:
    try:
        return process_config()
    except ConfigError as e:
        # Before the crawl starts: one clear line and exit 1, not a Scrapy traceback.
        sys.stderr.write(f"balkanwatch: {mask_secrets(str(e))}\n")
        raise SystemExit(1) from None
