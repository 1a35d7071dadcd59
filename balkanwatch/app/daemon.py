"""The daemon: an asyncio supervisor that runs each outlet's crawl as a child `scrapy crawl`.

A Twisted reactor cannot be restarted, so crawling in-process would need one reactor for months;
a child per crawl keeps leaks and crashes in the child and runs exactly what an operator runs by
hand. APScheduler (AsyncIOScheduler) fires the jobs: one per outlet at its interval, plus alert
delivery and digests as jobs of their own, so a slow crawl never delays an alert.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from balkanwatch.app.health import HealthMonitor
from balkanwatch.app.outlet_turns import OutletTurns
from balkanwatch.core.config import CONFIG_FILES, Config, ConfigError, Outlet, load_config
from balkanwatch.core.secrets import mask_secrets
from balkanwatch.core.times import parse_time, utcnow
from balkanwatch.delivery.alerts import Deliverer
from balkanwatch.storage.engine import DATABASE_ERRORS
from balkanwatch.storage.store import Store
from crawler.lifeline import SUPERVISOR_ENV
from crawler.runs import ERROR, INTERRUPTED, OK, TIMEOUT, cycle_summary, outcome_line

log = logging.getLogger("balkanwatch.app.daemon")

ROOT = Path(__file__).resolve().parent.parent
DELIVERY_EVERY = 30.0  # seconds between outbox passes
STOP_GRACE = 10.0  # seconds a running crawl gets to finish after SIGTERM
CHILD_MARGIN = 5.0  # a child cuts its outlets this long before crawl_timeout would stop it
POLL_EVERY = 0.5  # seconds between looks at storage for the outlets a running child finished
BATCH_WINDOW = 5.0  # outlets falling due within this many seconds share one child crawl
JITTER_MAX = 5.0  # seconds of random delay per run: small enough to keep batches together
MAX_BATCH = 50


class Batcher:
    """Lets outlets that fall due together share one child `scrapy crawl`.

    Starting Scrapy costs about a CPU second; fifty outlets polled in fifty children would spend
    most of a cycle starting up. Each outlet keeps its own APScheduler job (its interval, jitter,
    no overlap): the job hands its outlet to the batcher and waits until *its outlet* is done
    (`outlet_done`, called as soon as the outlet's record is in storage), not for the whole
    child, so an outlet sharing a child with a slow one is free for its next run on time. Outlets
    `apart(outlet)` says are slow each get a child of their own.
    """

    def __init__(
        self,
        run: Callable[[list[Outlet]], Awaitable[int | None]],
        window: float | None = None,
        apart: Callable[[Outlet], bool] = lambda outlet: False,
    ) -> None:
        self.run, self.window, self.apart = run, window, apart
        self.pending: list[tuple[Outlet, asyncio.Future[int | None]]] = []
        self.running: dict[str, asyncio.Future[int | None]] = {}
        self.flusher: asyncio.Task[None] | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    async def crawl(self, outlet: Outlet) -> int | None:
        future: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self.pending.append((outlet, future))
        if self.flusher is None:
            self.flusher = asyncio.create_task(self._flush_soon())
        return await future

    def outlet_done(self, name: str, code: int | None = 0) -> None:
        future = self.running.pop(name, None)
        if future is not None and not future.done():
            future.set_result(code)

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
        await asyncio.sleep(BATCH_WINDOW if self.window is None else self.window)
        batch, self.pending, self.flusher = self.pending, [], None
        alone = [[entry] for entry in batch if self.apart(entry[0])]
        shared = [entry for entry in batch if not self.apart(entry[0])]
        groups = [shared[i : i + MAX_BATCH] for i in range(0, len(shared), MAX_BATCH)] + alone
        for group in groups:
            for outlet, future in group:
                self.running[outlet.name] = future
            task = asyncio.create_task(self._run(group))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _run(self, batch: list[tuple[Outlet, asyncio.Future[int | None]]]) -> None:
        try:
            code = await self.run([outlet for outlet, _ in batch])
        except Exception:
            log.exception("Crawl of %s failed", ",".join(o.name for o, _ in batch))
            code = None
        for outlet, future in batch:
            if self.running.get(outlet.name) is future:
                del self.running[outlet.name]
            if not future.done():
                future.set_result(code)


@dataclass
class Supervisor:
    config: Config
    scrapy_args: list[str] = field(default_factory=list)  # extra `-s NAME=value` for children
    source: Path | None = None  # the operator's configuration directory (config is a snapshot)
    children: set[asyncio.subprocess.Process] = field(default_factory=set)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.slots = asyncio.Semaphore(self.config.settings.concurrent_crawls)
        # Outlets that timed out last time crawl alone, under a cap of their own: waiting on a
        # slow site costs little, and must not take a slot from the healthy outlets.
        self.slow_slots = asyncio.Semaphore(self.config.settings.concurrent_crawls)
        self.store = Store(self.config.database)
        self.deliverer = Deliverer(self.store, self.config)
        self.health = HealthMonitor(self.store, self.config)
        self.slow: set[str] = set()  # outlets whose last crawl timed out: a child each
        self.batcher = Batcher(
            self.crawl, window=batch_window(self.config), apart=lambda o: o.name in self.slow
        )
        self.turns = OutletTurns(self.store, self.config, self.stopping, JITTER_MAX)
        self.scheduler: AsyncIOScheduler | None = None
        self.first_round: dict[str, dict[str, Any] | None] = {}

    # -- crawling ---------------------------------------------------------------------------

    async def crawl_outlet(self, outlet: Outlet) -> int | None:
        """An outlet's scheduled job: its crawl, shared with the outlets due at the same time,
        unless another daemon sharing the database crawls it this interval (outlet_turns.py).

        What must happen before an outlet's crawl starts goes before the batcher call; what must
        happen after it ended (its record stored, or its child gone) goes after it."""
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
        # The child cuts its own outlets before the daemon would have to stop it: a moment on
        # the clock (epoch seconds), so that its own start-up counts.
        timeout = self.config.settings.crawl_timeout
        deadline = time.time() + max(timeout / 2, timeout - CHILD_MARGIN)
        return cmd + ["-s", f"CRAWL_DEADLINE={deadline:.1f}", *self.scrapy_args]

    def child_env(self) -> dict[str, str]:
        """The child runs on the daemon's configuration: the snapshot it validated."""
        return {
            **os.environ,
            "BALKANWATCH_CONFIG": str(self.config.directory),
            # the child ends with this process (crawler/lifeline.py)
            SUPERVISOR_ENV: str(os.getpid()),
            # a SQLite path made absolute; a postgresql:// URL as it is (a Path would fold it)
            "BALKANWATCH_DB": self.config.database
            if isinstance(self.config.database, str)
            else str(self.config.database.resolve()),
        }

    async def crawl(self, outlets: list[Outlet] | None = None) -> int | None:
        """Run one child crawl under the concurrency cap and time limit; its exit code. Each
        outlet's result is read from storage as soon as the child commits it."""
        targets = outlets or self.config.enabled_outlets()
        label = ",".join(o.name for o in outlets) if outlets else "all outlets"
        slow = bool(outlets) and all(o.name in self.slow for o in targets)
        async with self.slow_slots if slow else self.slots:
            if self.stopping.is_set():
                return None
            started, started_at = time.monotonic(), utcnow()
            proc = await asyncio.create_subprocess_exec(
                *self.crawl_command(outlets),
                cwd=ROOT,
                env=self.child_env(),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                # A group of its own: its extraction workers go with it, whatever ends it.
                start_new_session=True,
            )
            self.children.add(proc)
            log.debug("Crawl of %s started (pid %d)", label, proc.pid)
            waiting = {o.name for o in targets}
            tail: deque[bytes] = deque(maxlen=20)  # the last lines, for a crash report
            reader = asyncio.ensure_future(_read_lines(proc.stderr, tail))
            timed_out = False
            try:
                while proc.returncode is None:
                    await _exit(proc, POLL_EVERY)
                    self._collect(waiting, started_at)
                    if proc.returncode is not None:
                        break
                    if self.stopping.is_set():
                        await self._stop_child(proc)
                    elif time.monotonic() - started > self._crawl_timeout():
                        limit = self._crawl_timeout()
                        log.error("Crawl of %s exceeded %.0fs; stopping it", label, limit)
                        timed_out = True
                        await self._stop_child(proc)
            finally:
                self.children.discard(proc)
                _kill_group(proc.pid)  # workers a killed child left behind
                # Not EOF: a worker outliving the child would hold the pipe open.
                await asyncio.wait({reader}, timeout=1.0)
                reader.cancel()
            err = b"".join(tail)
            self._collect(waiting, started_at)
            if waiting or proc.returncode not in (0, 1):
                self._log_exit(label, proc.returncode, err, time.monotonic() - started)
            if waiting:
                self._record_lost(sorted(waiting), started_at, proc.returncode, err, timed_out)
                self._collect(waiting, started_at)
            self.write_feeds()
            return proc.returncode

    def _crawl_timeout(self) -> float:
        return self.config.settings.crawl_timeout

    def _collect(self, waiting: set[str], started_at: str) -> None:
        """Report the outlets of `waiting` whose record of this crawl is in storage."""
        for name in sorted(waiting):
            rows = self.store.recent_crawls(name, 1)
            if rows and rows[0]["started_at"] >= started_at:
                waiting.discard(name)
                self._report(rows[0])

    def _report(self, row: dict[str, Any]) -> None:
        name = row["outlet"]
        took = _seconds(row)
        if row["status"] == OK:
            log.info(outcome_line(row, took))
        else:
            log.warning(outcome_line(row, took))
        if row["status"] == TIMEOUT:
            self.slow.add(name)
        elif row["status"] == OK:
            self.slow.discard(name)
        try:
            self.health.check(name)
        except DATABASE_ERRORS as e:  # type: ignore[misc]
            log.error("Health check of %s failed: %s", name, e)
        self.batcher.outlet_done(name)
        if name in self.first_round and self.first_round[name] is None:
            self.first_round[name] = row
            if all(r is not None for r in self.first_round.values()):
                self._first_round_done()

    def _first_round_done(self) -> None:
        rows = [r for r in self.first_round.values() if r is not None]
        log.warning("First crawl of every outlet: %s", cycle_summary(rows))
        if self.scheduler is not None:
            due = [j.next_run_time for j in self.scheduler.get_jobs() if j.id.startswith("crawl:")]
            due = [d for d in due if d is not None]
            if due:
                log.warning("Next crawl due at %s", min(due).strftime("%H:%M:%S"))

    def _log_exit(self, label: str, code: int | None, err: bytes, seconds: float) -> None:
        lines = err.decode("utf-8", "replace").splitlines()
        log.error(
            "Crawl %s ended (exit %s) after %.1fs: %s",
            label,
            code,
            seconds,
            mask_secrets(" | ".join(ln.strip() for ln in lines[-3:])),
        )

    def _record_lost(
        self, names: list[str], started_at: str, code: int | None, err: bytes, timed_out: bool
    ) -> None:
        """Outlets the child did not record (killed, crashed) still get a record; an outlet the
        child did record keeps its own."""
        tail = " | ".join(err.decode("utf-8", "replace").strip().splitlines()[-2:])[-500:]
        if self.stopping.is_set():
            status, why = INTERRUPTED, f"interrupted: the daemon stopped (crawl exit {code})"
        elif timed_out:
            limit = self._crawl_timeout()
            status, why = (
                TIMEOUT,
                f"timed out: crawl process stopped after crawl_timeout {limit:g} s",
            )
        else:
            status, why = ERROR, f"crawl process exited with code {code}: {tail}"
        with self.store.transaction():
            for name in names:
                if not self.store.crawl_recorded_since(name, started_at):
                    self.store.record_crawl(
                        {
                            "outlet": name,
                            "started_at": started_at,
                            "finished_at": utcnow(),
                            "status": status,
                            "error": mask_secrets(why),
                        }
                    )

    async def _stop_child(self, proc: asyncio.subprocess.Process) -> None:
        if proc.returncode is not None:
            return
        # The child records its unfinished outlets as interrupted, cuts their downloads and
        # exits; SIGKILL only if it has not within the grace period.
        proc.send_signal(signal.SIGTERM)
        if not await _exit(proc, STOP_GRACE):
            proc.kill()
            await _exit(proc, STOP_GRACE)

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

    # -- configuration ----------------------------------------------------------------------

    def reload(self) -> None:
        """SIGHUP: the configuration again, from the operator's directory; a broken one keeps
        the running configuration (one line naming the error)."""
        if self.source is None:
            log.error("Configuration not reloaded: the daemon runs without a source directory")
            return
        try:
            config = load_snapshot(self.source)
        except ConfigError as e:
            log.error("Configuration not reloaded, still running the previous one: %s", e)
            return
        self.config = config
        self.deliverer = Deliverer(self.store, config)
        self.health = HealthMonitor(self.store, config)
        self.turns.config = config
        self.batcher.window = batch_window(config)
        if self.scheduler is not None:
            self._reschedule(self.scheduler)
        log.warning(
            "Configuration reloaded from %s: %d outlets, %d topics, %d subscribers",
            self.source,
            len(config.enabled_outlets()),
            len(config.topics),
            len(config.subscribers),
        )

    # -- lifecycle --------------------------------------------------------------------------

    async def once(self) -> int:
        """One full cycle: every enabled outlet, then alert and due-digest delivery. Exit 1
        when no outlet was crawled successfully."""
        started_at = utcnow()
        self.first_round = {o.name: None for o in self.config.enabled_outlets()}
        await self.crawl(None)
        await self.deliver()
        rows = [
            r[0]
            for o in self.config.enabled_outlets()
            if (r := self.store.recent_crawls(o.name, 1)) and r[0]["started_at"] >= started_at
        ]
        return 0 if any(r["status"] == OK for r in rows) else 1

    def _job(self, scheduler: AsyncIOScheduler, outlet: Outlet, delay: float) -> None:
        interval = self.config.interval_of(outlet)
        scheduler.add_job(
            self.crawl_outlet,
            IntervalTrigger(seconds=interval, jitter=min(JITTER_MAX, interval * 0.1)),
            args=[outlet],
            id=f"crawl:{outlet.name}",
            name=f"crawl {outlet.name}",  # APScheduler's warnings name the outlet
            next_run_time=_in(delay + random.uniform(1, 2)),
            # One run of an outlet at a time; its run ends when its record is stored, so a slow
            # neighbour in the same child does not make it miss its next turn.
            max_instances=1,
            coalesce=True,
            misfire_grace_time=int(interval),  # a late run still runs (default 1 s drops it)
            replace_existing=True,
        )

    def schedule(self, scheduler: AsyncIOScheduler) -> None:
        self.scheduler = scheduler
        outlets = self.config.enabled_outlets()
        self.first_round = {o.name: None for o in outlets}
        for i, outlet in enumerate(outlets):
            # After a restart the outlets start in waves of MAX_BATCH, one child crawl each; inside
            # a child the spider staggers its outlets (OUTLET_STAGGER), so the sites and this
            # machine see a ramp, not a spike, at the cost of one Scrapy start-up per wave.
            self._job(
                scheduler, outlet, (i // MAX_BATCH) * min(self.config.interval_of(outlet), 30.0)
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

    def _reschedule(self, scheduler: AsyncIOScheduler) -> None:
        """After a reload: new outlets get a job, removed or disabled ones lose theirs, a changed
        interval takes effect; an unchanged outlet keeps its turn."""
        wanted = {o.name: o for o in self.config.enabled_outlets()}
        for job in scheduler.get_jobs():
            if not job.id.startswith("crawl:"):
                continue
            name = job.id.removeprefix("crawl:")
            outlet = wanted.pop(name, None)
            if outlet is None:
                job.remove()
            elif job.trigger.interval.total_seconds() != self.config.interval_of(outlet):
                self._job(scheduler, outlet, 0.0)
            else:
                job.modify(args=[outlet])
        for outlet in wanted.values():
            self._job(scheduler, outlet, 0.0)

    async def run_forever(self) -> int:
        scheduler = AsyncIOScheduler(timezone=self.config.settings.tz)
        self.schedule(scheduler)
        scheduler.start()
        log.info("balkanwatch daemon started: %d outlets", len(self.config.enabled_outlets()))
        await self.stopping.wait()
        log.info("Stopping: no new crawls; %d running get %.0fs", len(self.children), STOP_GRACE)
        scheduler.pause()  # no new runs; the running jobs end as their crawls end
        self.batcher.cancel_pending()
        # Each running crawl sees `stopping` and stops its child (SIGTERM, then SIGKILL).
        await asyncio.gather(*self.batcher.tasks, return_exceptions=True)
        scheduler.shutdown(wait=False)
        self.store.close()
        log.info("Stopped")
        return 0

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        loop.add_signal_handler(signal.SIGHUP, self.reload)


def batch_window(config: Config) -> float:
    """Outlets due within this many seconds share a child: at most a tenth of the shortest
    interval, so batching never costs an outlet a noticeable part of its interval."""
    intervals = [config.interval_of(o) for o in config.enabled_outlets()] or [
        config.settings.interval
    ]
    return min(BATCH_WINDOW, 0.1 * min(intervals or [config.settings.interval]))


def load_snapshot(source: Path) -> Config:
    """Copy the configuration files to a directory of their own, then validate the copy: the
    daemon and every child it starts run on exactly what was validated, whatever happens to
    the operator's files until the next SIGHUP."""
    if not source.is_dir():
        raise ConfigError(f"{source}: configuration directory not found")
    snapshot = Path(tempfile.mkdtemp(prefix="balkanwatch-config-"))
    for name in CONFIG_FILES:
        if (source / name).exists():
            shutil.copyfile(source / name, snapshot / name)
    try:
        return load_config(snapshot)
    except ConfigError:
        shutil.rmtree(snapshot, ignore_errors=True)
        raise


async def _exit(proc: asyncio.subprocess.Process, timeout: float) -> bool:
    """Whether the process exited within `timeout` seconds. Not `proc.wait()`: asyncio wakes
    that only once the pipes are closed too, which a worker outliving a killed child prevents."""
    deadline = time.monotonic() + timeout
    while proc.returncode is None and time.monotonic() < deadline:
        await asyncio.sleep(min(0.05, timeout))
    return proc.returncode is not None


async def _read_lines(stream: asyncio.StreamReader | None, tail: deque[bytes]) -> None:
    while stream is not None and (line := await stream.readline()):
        tail.append(line)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _seconds(row: dict[str, Any]) -> float | None:
    start, end = parse_time(row["started_at"]), parse_time(row.get("finished_at"))
    return (end - start).total_seconds() if start and end else None


def _in(seconds: float) -> datetime:
    from datetime import timedelta

    return datetime.now().astimezone() + timedelta(seconds=seconds)


async def main_async(
    config: Config, once: bool, scrapy_args: list[str], source: Path | None = None
) -> int:
    sup = Supervisor(config, scrapy_args, source)
    sup.install_signal_handlers()
    try:
        if once:
            return await sup.once()
        return await sup.run_forever()
    finally:
        if source is not None:  # the snapshot directories are the daemon's own
            shutil.rmtree(sup.config.directory, ignore_errors=True)
