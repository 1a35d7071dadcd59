"""One slow outlet never holds up the others (issue 15, part 1), under the real daemon.

A loopback outlet that sends its feed a byte every 2 s runs beside two healthy outlets, with short
intervals and a short per-outlet deadline: the healthy outlets are crawled on their interval and
recorded ok every time, no health alert names them, the slow one is recorded as timed out. A child
killed in the middle keeps the records, articles and alerts of the outlets it had finished.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from balkanwatch.core.times import parse_time
from balkanwatch.storage.store import Store
from tests.support import FAST, ROOT, FixtureSite, SMTPSink, article_page, rss, write_config
from tests.test_daemon import wait_for

INTERVAL = 15.0
# The healthy outlets' first crawl extracts two articles: a few seconds on a busy machine.
OUTLET_TIMEOUT = 10.0
# How late a healthy outlet's crawl may start after its due time: APScheduler's jitter (10 % of
# the interval), the batching window (10 %) and a Scrapy start-up, which takes 2 s on an idle
# machine and up to 8 s on a loaded one (measured at a load average of 10 on 2 cores).
MARGIN = 10.0

TEXT = [
    "Kosovo's government and KFOR agreed on new patrol routes in the north of the country, "
    "officials in Pristina said on Tuesday after a meeting with NATO commanders."
] * 3


class Daemon:
    """`python scheduler.py` as a subprocess, its output collected line by line."""

    def __init__(self, cfg: Path, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "scheduler.py", *FAST, *args],
            cwd=ROOT,
            env={**os.environ, "BALKANWATCH_CONFIG": str(cfg)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def output(self) -> str:
        return "".join(self.lines)

    def wait_line(self, needle: str, timeout: float) -> None:
        wait_for(lambda: needle in self.output(), timeout, repr(needle))

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, float]:
        """Signal the daemon; its exit code and the seconds it took to exit."""
        started = time.monotonic()
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=60)
        took = time.monotonic() - started
        self.reader.join(timeout=10)
        return code, took

    def children(self) -> list[int]:
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(p) for p in path.read_text().split()] if path.exists() else []

    def kill(self) -> None:
        """End the daemon if a test left it running, and close its output pipe."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self.reader.join(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def healthy(site: FixtureSite, name: str, articles: int = 2) -> dict[str, object]:
    items = []
    for i in range(articles):
        path = f"/2026/12/01/{name}-{i}"
        title = f"KFOR patrol {name} {i}"
        paras = [f"{p} Story {name} number {i}, district {i * 17 + len(name)}." for p in TEXT]
        site.add(path, article_page(title, paras))
        items.append({"title": title, "link": site.url(path)})
    site.add("/feed/", rss(items), content_type="application/rss+xml", etag=f'"{name}-v1"')
    return {"name": name, "homepage": site.url("/"), "feeds": [site.url("/feed/")]}


def slow(site: FixtureSite, drip: float = 2.0) -> dict[str, object]:
    link = site.url("/2026/12/01/never")
    site.add("/feed/", rss([{"title": "Never", "link": link}]), drip=drip)
    return {"name": "slow", "homepage": site.url("/"), "feeds": [site.url("/feed/")]}


@pytest.fixture
def sites(make_site: Callable[[str], FixtureSite]) -> dict[str, FixtureSite]:
    return {n: make_site(h) for n, h in (("alpha", "127.0.0.6"), ("beta", "127.0.0.7"))} | {
        "slow": make_site("127.0.0.8")
    }


def crawls(cfg: Path, outlet: str) -> list[dict]:
    store = Store(cfg / "bw.db")
    try:
        return store.rows("SELECT * FROM crawls WHERE outlet = ? ORDER BY id", (outlet,))
    finally:
        store.close()


def test_slow_outlet_never_delays_the_healthy_ones(
    tmp_path: Path, sites: dict[str, FixtureSite], smtp: SMTPSink
) -> None:
    outlets = [
        healthy(sites["alpha"], "alpha"),
        healthy(sites["beta"], "beta"),
        slow(sites["slow"]),
    ]
    cfg = write_config(
        tmp_path / "cfg",
        [{**o, "interval": f"{INTERVAL:g}s"} for o in outlets],
        subscribers=[{"name": "ops", "urls": [smtp.url("ops@example.org")]}],
        settings={
            "outlet_timeout": f"{OUTLET_TIMEOUT:g}s",
            "crawl_timeout": "60s",
            "operators": ["ops"],
            "failure_threshold": 2,
        },
    )
    # Scrapy's per-request timeout above the outlet's: the outlet's deadline is what cuts it.
    daemon = Daemon(cfg, "-s", "DOWNLOAD_TIMEOUT=30")
    try:
        wait_for(lambda: len(crawls(cfg, "slow")) >= 3, 120, "three crawls of the slow outlet")
        # SIGTERM with the slow outlet's crawl in flight: its feed asked for, not yet recorded.
        wait_for(
            lambda: len(sites["slow"].requests("/feed/")) > len(crawls(cfg, "slow")),
            30,
            "a crawl of the slow outlet in flight",
        )
        time.sleep(0.5)
        code, stop_seconds = daemon.stop(signal.SIGTERM)
        stopped_at = time.time()
    finally:
        daemon.kill()
    out = daemon.output()
    assert code == 0, out[-3000:]

    figures = []
    for name in ("alpha", "beta"):
        rows = crawls(cfg, name)
        ran = len(rows)
        starts = [parse_time(r["started_at"]).timestamp() for r in rows]  # type: ignore[union-attr]
        due = math.floor((stopped_at - starts[0]) / INTERVAL) + 1
        gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
        figures.append(
            f"{name}: {due} due, {len(rows)} ran, statuses {sorted({r['status'] for r in rows})},"
            f" new {[r['new_articles'] for r in rows]}, gaps {[round(g, 1) for g in gaps]}"
        )
        # Every crawl ok; the one in flight at SIGTERM, if any, interrupted.
        if rows[-1]["status"] == "interrupted":
            rows, starts = rows[:-1], starts[:-1]
        assert {r["status"] for r in rows} == {"ok"}, rows
        assert rows[0]["new_articles"] == 2
        assert ran >= due - 1, figures
        assert max(gaps) <= INTERVAL + MARGIN, figures
    slow_rows = crawls(cfg, "slow")
    statuses = [r["status"] for r in slow_rows]
    assert set(statuses[:-1]) == {"timeout"}, slow_rows
    assert statuses[-1] == "interrupted", slow_rows  # the crawl in flight at SIGTERM
    assert f"timed out after {OUTLET_TIMEOUT:g} s; stored 0 new of 0 found" in slow_rows[0]["error"]
    print(
        "\n".join(
            [
                *figures,
                f"slow: {statuses}",
                f"SIGTERM to exit with a crawl in flight: {stop_seconds:.2f} s",
            ]
        )
    )
    assert stop_seconds < 10  # inside the daemon's grace period, no SIGKILL needed

    # Health alerts (queued for the operators; some may not have been sent yet): the slow
    # outlet only.
    store = Store(cfg / "bw.db")
    payloads = [
        r["payload"] for r in store.rows("SELECT payload FROM alerts WHERE kind = ?", ("operator",))
    ]
    assert payloads and all("slow is failing" in p for p in payloads), payloads
    health = [m["subject"] for m in smtp.messages if m["subject"].startswith("[balkanwatch]")]
    assert not any("alpha" in s or "beta" in s for s in health), health
    assert "crawl-result slow status=timeout" in out
    # No run of a healthy outlet was skipped for a crawl still running.
    assert "crawl alpha (trigger" not in out and "crawl beta (trigger" not in out
    assert f"timeout: timed out after {OUTLET_TIMEOUT:g} s" in out


def test_child_killed_keeps_the_outlets_it_finished(
    tmp_path: Path, sites: dict[str, FixtureSite], smtp: SMTPSink
) -> None:
    cfg = write_config(
        tmp_path / "cfg",
        [healthy(sites["alpha"], "alpha"), slow(sites["slow"])],
        subscribers=[{"name": "desk", "urls": [smtp.url()]}],
        settings={"outlet_timeout": "100s", "crawl_timeout": "100s"},
    )
    daemon = Daemon(cfg, "--once", "-s", "DOWNLOAD_TIMEOUT=100")
    try:
        wait_for(lambda: len(crawls(cfg, "alpha")) == 1, 60, "alpha's record")
        (child,) = daemon.children()
        os.kill(child, signal.SIGKILL)  # as the OOM killer would
        code = daemon.proc.wait(timeout=60)
    finally:
        daemon.kill()
    daemon.reader.join(timeout=10)
    out = daemon.output()
    assert code == 0, out[-3000:]  # alpha was crawled
    (alpha,) = crawls(cfg, "alpha")
    assert (alpha["status"], alpha["new_articles"], alpha["error"]) == ("ok", 2, None)
    (lost,) = crawls(cfg, "slow")
    assert lost["status"] == "error" and "exited with code -9" in lost["error"]
    assert Store(cfg / "bw.db").count_articles("alpha") == 2
    # alpha's alert (its two articles are copies of one story), sent by the daemon after the kill
    (alert,) = smtp.messages
    assert "KFOR patrol alpha" in alert["subject"]


def test_child_cuts_its_outlets_before_crawl_timeout(
    tmp_path: Path, sites: dict[str, FixtureSite]
) -> None:
    cfg = write_config(
        tmp_path / "cfg",
        [healthy(sites["alpha"], "alpha"), slow(sites["slow"])],
        settings={"outlet_timeout": "100s", "crawl_timeout": "20s"},
    )
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "scheduler.py", "--once", *FAST, "-s", "DOWNLOAD_TIMEOUT=100"],
        cwd=ROOT,
        env={**os.environ, "BALKANWATCH_CONFIG": str(cfg)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    took = time.monotonic() - started
    assert done.returncode == 0, done.stderr[-3000:]
    (alpha,) = crawls(cfg, "alpha")
    (cut,) = crawls(cfg, "slow")
    assert alpha["status"] == "ok" and alpha["new_articles"] == 2
    # crawl_timeout 20 s: the child ends the slow outlet itself, 5 s before the daemon would.
    assert cut["status"] == "timeout" and "the crawl ran out of time" in cut["error"]
    assert "exceeded" not in done.stderr  # the daemon did not have to stop it
    assert took < 20 + 5
