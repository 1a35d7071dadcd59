"""The daemon: an asyncio supervisor that runs each outlet's crawl as a child `scrapy crawl`.

A Twisted reactor cannot be restarted, so crawling in-process would need one reactor for months;
a child per crawl keeps leaks and crashes in the child and runs exactly what an operator runs by
hand. APScheduler (AsyncIOScheduler) fires the jobs: one per outlet at its interval, plus alert
delivery and digests as jobs of their own, so a slow crawl never delays an alert.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from balkanwatch.app.health import HealthMonitor
from balkanwatch.app.outlet_turns import OutletTurns
from balkanwatch.core.config import Config, Outlet
from balkanwatch.core.secrets import mask_secrets
from balkanwatch.core.times import utcnow
from balkanwatch.delivery.alerts import Deliverer
from balkanwatch.storage.engine import DATABASE_ERRORS
from balkanwatch.storage.store import Store

log = logging.getLogger("balkanwatch.app.daemon")

ROOT = Path(__file__).resolve().parent.parent
DELIVERY_EVERY = 30.0  # seconds between outbox passes
STOP_GRACE = 10.0  # seconds a running crawl gets to finish after SIGTERM
BATCH_WINDOW = 5.0  # outlets falling due within this many seconds share one child crawl
JITTER_MAX = 5.0  # seconds of random delay per run: small enough to keep batches together
MAX_BATCH = 50


class Batcher:
    """Lets outlets that fall due together share one child `scrapy crawl`.

    Starting Scrapy costs about a CPU second; fifty outlets polled in fifty children would spend
    most of a cycle starting up. Each outlet keeps its own APScheduler job (its interval, jitter,
    no overlap): the job hands its outlet to the batcher and waits for the batch's crawl.
    """

    def __init__(self, run: Callable[[list[Outlet]], Awaitable[int | None]]) -> None:
        self.run = run
        self.pending: list[tuple[Outlet, asyncio.Future[int | None]]] = []
        self.flusher: asyncio.Task[None] | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    async def crawl(self, outlet: Outlet) -> int | None:
        future: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self.pending.append((outlet, future))
        if self.flusher is None:
            self.flusher = asyncio.create_task(self._flush_soon())
        return await future

    def cancel_pending(self) -> None:
        """At shutdown: outlets waiting for a batch get no crawl."""
        if self.flusher:
            self.flusher.cancel()
            self.flusher = None
        for _, future in self.pending:
            if not future.done():
                future.set_result(None)
        self.pending = []

    async def _flush_soon(self) -> None:
        await asyncio.sleep(BATCH_WINDOW)
        batch, self.pending, self.flusher = self.pending, [], None
        for i in range(0, len(batch), MAX_BATCH):
            task = asyncio.create_task(self._run(batch[i : i + MAX_BATCH]))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _run(self, batch: list[tuple[Outlet, asyncio.Future[int | None]]]) -> None:
        try:
            code = await self.run([outlet for outlet, _ in batch])
        except Exception:
            log.exception("Crawl of %s failed", ",".join(o.name for o, _ in batch))
            code = None
        for _, future in batch:
            if not future.done():
                future.set_result(code)


@dataclass
class Supervisor:
    config: Config
    scrapy_args: list[str] = field(default_factory=list)  # extra `-s NAME=value` for children
    children: set[asyncio.subprocess.Process] = field(default_factory=set)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.slots = asyncio.Semaphore(self.config.settings.concurrent_crawls)
        self.store = Store(self.config.database)
        self.deliverer = Deliverer(self.store, self.config)
        self.health = HealthMonitor(self.store, self.config)
        self.batcher = Batcher(self.crawl)
        self.turns = OutletTurns(self.store, self.config, self.stopping, JITTER_MAX)

    # -- crawling ---------------------------------------------------------------------------

    async def crawl_outlet(self, outlet: Outlet) -> int | None:
        """An outlet's scheduled run: crawled here unless another daemon sharing the database
        crawls it this interval (see outlet_turns.py)."""
        if not await self.turns.claim(outlet):
            return None
        code = None
        try:
            code = await self.batcher.crawl(outlet)
        finally:
            self.turns.release(outlet, crawled=code is not None)
        return code

    def crawl_command(self, outlets: list[Outlet] | None) -> list[str]:
        cmd = [sys.executable, "-m", "scrapy", "crawl", "outlets"]
        if outlets:
            cmd += ["-a", "outlets=" + ",".join(o.name for o in outlets)]
        return cmd + self.scrapy_args

    async def crawl(self, outlets: list[Outlet] | None = None) -> int | None:
        """Run one child crawl under the concurrency cap and time limit; its exit code."""
        label = ",".join(o.name for o in outlets) if outlets else "all outlets"
        async with self.slots:
            if self.stopping.is_set():
                return None
            started, started_at = time.monotonic(), utcnow()
            proc = await asyncio.create_subprocess_exec(
                *self.crawl_command(outlets),
                cwd=ROOT,
                env={
                    **os.environ,
                    "BALKANWATCH_CONFIG": str(self.config.directory),
                    "BALKANWATCH_DB": str(self.config.database),
                },
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            self.children.add(proc)
            try:
                _, err = await asyncio.wait_for(
                    proc.communicate(), timeout=self.config.settings.crawl_timeout
                )
            except TimeoutError:
                log.error(
                    "Crawl of %s exceeded %.0fs; stopping it",
                    label,
                    self.config.settings.crawl_timeout,
                )
                await self._stop_child(proc)
                err = b""
            finally:
                self.children.discard(proc)
            self._log_crawl(label, proc.returncode, err, time.monotonic() - started)
            targets = outlets or self.config.enabled_outlets()
            if proc.returncode != 0:
                self._record_crash(targets, started_at, proc.returncode, err)
            for outlet in targets:
                self.health.check(outlet.name)
            self.write_feeds()
            return proc.returncode

    def _log_crawl(self, label: str, code: int | None, err: bytes, seconds: float) -> None:
        lines = err.decode("utf-8", "replace").splitlines()
        if code == 0:
            # The child's own per-outlet summary lines (see OutletsSpider.closed) carry the figures.
            figures = [ln[ln.index("crawl-result ") :] for ln in lines if "crawl-result " in ln]
            for line in figures or [f"crawl-result {label}"]:
                log.info("%s (%.1fs)", line, seconds)
        else:
            log.error(
                "Crawl %s failed (exit %s) after %.1fs: %s",
                label,
                code,
                seconds,
                mask_secrets(" | ".join(ln.strip() for ln in lines[-3:])),
            )

    def _record_crash(
        self, outlets: list[Outlet], started_at: str, code: int | None, err: bytes
    ) -> None:
        """A child that died before writing its crawl records still counts as a failed crawl."""
        tail = " | ".join(err.decode("utf-8", "replace").strip().splitlines()[-2:])[-500:]
        with self.store.transaction():
            for outlet in outlets:
                if not self.store.crawl_recorded_since(outlet.name, started_at):
                    self.store.record_crawl(
                        {
                            "outlet": outlet.name,
                            "started_at": started_at,
                            "finished_at": utcnow(),
                            "status": "error",
                            "error": mask_secrets(f"crawl process exited with code {code}: {tail}"),
                        }
                    )

    async def _stop_child(self, proc: asyncio.subprocess.Process) -> None:
        if proc.returncode is not None:
            return
        proc.send_signal(signal.SIGTERM)  # Scrapy closes the spider cleanly on the first one
        try:
            await asyncio.wait_for(proc.wait(), STOP_GRACE)
        except TimeoutError:
            proc.kill()
            await proc.wait()

    # -- delivery ---------------------------------------------------------------------------

    async def deliver(self) -> None:
        if self.stopping.is_set():
            return
        self.deliverer.close_digests()
        report = await self.deliverer.deliver_due()
        if report.attempted:
            log.info("Alerts: %s", report)

    def write_feeds(self) -> None:
        """Atom feeds per topic when settings.feeds_dir is set; a failure is logged, never fatal."""
        directory = self.config.settings.feeds_dir
        if not directory:
            return
        from balkanwatch.delivery.atom import write_topic_feeds

        try:
            write_topic_feeds(self.store, self.config, directory, datetime.now(UTC))
        except (OSError, *DATABASE_ERRORS) as e:  # type: ignore[misc]
            log.error("Writing Atom feeds to %s failed: %s", directory, e)

    # -- lifecycle --------------------------------------------------------------------------

    async def once(self) -> int:
        """One full cycle: every enabled outlet, then alert and due-digest delivery."""
        code = await self.crawl(None)
        await self.deliver()
        return 0 if code == 0 else 1

    def schedule(self, scheduler: AsyncIOScheduler) -> None:
        outlets = self.config.enabled_outlets()
        for i, outlet in enumerate(outlets):
            interval = self.config.interval_of(outlet)
            # After a restart the outlets start in waves of MAX_BATCH, one child crawl each; inside
            # a child the spider staggers its outlets (OUTLET_STAGGER), so the sites and this
            # machine see a ramp, not a spike, at the cost of one Scrapy start-up per wave.
            delay = (i // MAX_BATCH) * min(interval, 30.0)
            scheduler.add_job(
                self.crawl_outlet,
                IntervalTrigger(seconds=interval, jitter=min(JITTER_MAX, interval * 0.1)),
                args=[outlet],
                id=f"crawl:{outlet.name}",
                next_run_time=_in(delay + random.uniform(1, 2)),
                max_instances=1,
                coalesce=True,
                misfire_grace_time=int(interval),  # a late run still runs (default 1 s drops it)
            )
        scheduler.add_job(
            self.deliver,
            IntervalTrigger(seconds=DELIVERY_EVERY),
            id="deliver",
            next_run_time=_in(1.0),
            max_instances=1,
            coalesce=True,
            misfire_grace_time=int(DELIVERY_EVERY),
        )

    async def run_forever(self) -> int:
        scheduler = AsyncIOScheduler(timezone=self.config.settings.tz)
        self.schedule(scheduler)
        scheduler.start()
        log.info("balkanwatch daemon started: %d outlets", len(self.config.enabled_outlets()))
        await self.stopping.wait()
        log.info("Stopping: no new crawls; %d running get %.0fs", len(self.children), STOP_GRACE)
        scheduler.pause()  # no new runs; the running jobs end as their crawls end
        self.batcher.cancel_pending()
        await asyncio.gather(*(self._stop_child(p) for p in list(self.children)))
        await asyncio.gather(*self.batcher.tasks, return_exceptions=True)
        scheduler.shutdown(wait=False)
        self.store.close()
        log.info("Stopped")
        return 0

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)


def _in(seconds: float) -> datetime:
    from datetime import timedelta

    return datetime.now().astimezone() + timedelta(seconds=seconds)


async def main_async(config: Config, once: bool, scrapy_args: list[str]) -> int:
    sup = Supervisor(config, scrapy_args)
    sup.install_signal_handlers()
    if once:
        return await sup.once()
    return await sup.run_forever()
