"""Several daemons sharing one PostgreSQL database share the outlets.

Two real daemon processes (`python scheduler.py`, as on two hosts) run against one PostgreSQL
server, four loopback outlets and a real SMTP server. Each outlet is crawled by one daemon per
interval (outlet leases), each alert is sent once (outbox leases), and when one daemon is killed
with SIGKILL the other takes over its outlets at the end of their interval.

The figures (crawls per daemon, alerts, takeover time) are printed; run with `-s` to see them.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from balkanwatch.core.times import timestamp
from balkanwatch.storage.store import Store
from tests.support import FAST, ROOT, FixtureSite, SMTPSink, article_page, rss, write_config

pytestmark = pytest.mark.postgres

INTERVAL = 30.0  # seconds: longer than a batch crawl (5 s batch window, Scrapy start-up) on 2 cores
JITTER = min(5.0, INTERVAL * 0.1)  # the daemon's (daemon.JITTER_MAX, 10 % of the interval)
OUTLETS = 4
WORDS = [
    "bridge",
    "council",
    "minister",
    "budget",
    "river",
    "election",
    "village",
    "court",
    "harbour",
    "winter",
    "market",
    "railway",
    "school",
    "hospital",
    "police",
    "border",
    "customs",
    "mayor",
    "parliament",
    "festival",
    "museum",
    "energy",
    "forest",
    "tunnel",
]


class Daemon:
    def __init__(self, name: str, cfg: Path, database: str, log: Path) -> None:
        self.name = name
        self.log_path = log
        self.log: IO[str] = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "scheduler.py", *FAST],
            cwd=ROOT,
            env={**os.environ, "BALKANWATCH_CONFIG": str(cfg), "BALKANWATCH_DB": database},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def owns(self, owner: str | None) -> bool:
        return f"|{self.proc.pid}|" in (owner or "")

    def crawled(self) -> list[str]:
        """The outlets of each crawl this daemon ran (its children's crawl-result lines)."""
        text = self.log_path.read_text()
        return re.findall(r"crawl-result (\S+) status=", text)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def story(site: FixtureSite, n: int, slug: str) -> dict[str, str]:
    words = random.Random(f"{site.host}{slug}").sample(WORDS, 20)
    title = f"Kosovo {slug} {n}: {' '.join(words[:4])}"
    paras = [f"Kosovo and KFOR {slug} {n}: " + " ".join(words) + "."] * 3
    site.add(f"/2026/12/01/{slug}", article_page(title, paras))
    return {"title": title, "link": site.url(f"/2026/12/01/{slug}")}


@pytest.fixture
def world(
    tmp_path: Path, make_site: Callable[[str], FixtureSite], smtp: SMTPSink, postgres_url: str
) -> Iterator[tuple[Path, list[FixtureSite], list[list[dict[str, str]]]]]:
    sites = [make_site(f"127.0.0.{30 + i}") for i in range(OUTLETS)]
    feeds: list[list[dict[str, str]]] = []
    for i, site in enumerate(sites):
        items = [story(site, i, "first")]
        feeds.append(items)
        site.add(
            "/feed/", lambda items=items: rss(items).encode(), content_type="application/rss+xml"
        )
    cfg = write_config(
        tmp_path / "cfg",
        [
            {
                "name": f"outlet{i}",
                "homepage": site.url("/"),
                "feeds": [site.url("/feed/")],
                "interval": f"{INTERVAL:g}s",
            }
            for i, site in enumerate(sites)
        ],
        subscribers=[{"name": "desk", "urls": [smtp.url()]}],
        settings={"database": postgres_url},
    )
    yield cfg, sites, feeds


def claimed_at(lease: dict[str, Any]) -> float:
    """When the holder claimed the outlet: the start of its crawl, or after the crawl (released)
    one interval before the slot ends."""
    return timestamp(lease["started_at"]) or lease["lease_until"] - INTERVAL


def crawl_starts(store: Store) -> dict[str, list[float]]:
    starts: dict[str, list[float]] = {}
    for row in store.rows("SELECT outlet, started_at FROM crawls ORDER BY started_at"):
        starts.setdefault(row["outlet"], []).append(timestamp(row["started_at"]) or 0.0)
    return starts


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def test_two_daemons_share_the_outlets_and_one_takes_over_from_a_killed_one(
    world: tuple[Path, list[FixtureSite], list[list[dict[str, str]]]],
    smtp: SMTPSink,
    postgres_url: str,
    tmp_path: Path,
) -> None:
    cfg, sites, feeds = world
    store = Store(postgres_url)
    a = Daemon("A", cfg, postgres_url, tmp_path / "a.log")
    b = Daemon("B", cfg, postgres_url, tmp_path / "b.log")
    daemons = [a, b]
    try:
        # Both run for three intervals: every outlet's first story is alerted once.
        wait_for(lambda: len(smtp.messages) >= OUTLETS, 4 * INTERVAL, "the first alerts")
        time.sleep(2 * INTERVAL)
        both = {d.name: d.crawled() for d in daemons}
        starts = crawl_starts(store)
        assert sorted(starts) == [f"outlet{i}" for i in range(OUTLETS)]
        for outlet, times in starts.items():
            gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
            # One crawl per interval: the next starts an interval later (less the jitter of
            # the holder's scheduler and a Scrapy start-up's variation), never alongside.
            assert all(gap > INTERVAL - JITTER - 4 for gap in gaps), (outlet, gaps)

        # A new story at every outlet; then daemon A dies without a word.
        for i, site in enumerate(sites):
            feeds[i].append(story(site, i, "second"))
        leases = {r["outlet"]: r for r in store.outlet_leases()}
        a_outlets = sorted(o for o, r in leases.items() if a.owns(r["owner"]))
        if not a_outlets:  # B holds everything this round: kill B instead
            a, b = b, a
            a_outlets = sorted(o for o, r in leases.items() if a.owns(r["owner"]))
        last_claims = {o: claimed_at(leases[o]) for o in a_outlets}
        a.proc.kill()
        a.proc.wait()
        killed_at = time.time()

        def taken_over() -> bool:
            now = {r["outlet"]: r for r in store.outlet_leases()}
            return all(b.owns(now[o]["owner"]) for o in a_outlets)

        wait_for(taken_over, 2 * INTERVAL + 10, "B to claim A's outlets")
        now = {r["outlet"]: r for r in store.outlet_leases()}
        claims = {o: claimed_at(now[o]) for o in a_outlets}
        wait_for(
            lambda: all(max(crawl_starts(store)[o]) > killed_at for o in a_outlets),
            INTERVAL + 30,
            "B's crawls of A's outlets",
        )
        first_crawls = {
            o: min(t for t in crawl_starts(store)[o] if t > killed_at) for o in a_outlets
        }
        wait_for(lambda: len(smtp.messages) >= 2 * OUTLETS, 2 * INTERVAL + 30, "second alerts")
        time.sleep(10)  # anything sent twice would arrive by now
    finally:
        for daemon in daemons:
            daemon.stop()
        store.close()

    subjects = [m["subject"] for m in smtp.messages]
    sent = store_rows_after(postgres_url)
    takeover = {o: claims[o] - killed_at for o in a_outlets}
    since_last = {o: claims[o] - last_claims[o] for o in a_outlets}
    print(
        f"\nseveral daemons: interval {INTERVAL:g}s, {OUTLETS} outlets\n"
        f"  crawls before the kill: A {len(both['A'])} {sorted(both['A'])}, "
        f"B {len(both['B'])} {sorted(both['B'])}\n"
        f"  after: {a.name} {len(a.crawled())} crawls, {b.name} {len(b.crawled())} crawls\n"
        f"  alerts: {len(subjects)} e-mails, {len(set(subjects))} distinct; rows {sent}\n"
        f"  killed {a.name} holding {a_outlets}; {b.name} claimed them "
        + ", ".join(f"{o} +{t:.1f}s" for o, t in takeover.items())
        + " after the SIGKILL ("
        + ", ".join(f"{t:.1f}s" for t in since_last.values())
        + " after A's last claim); crawl records "
        + ", ".join(f"+{first_crawls[o] - killed_at:.1f}s" for o in a_outlets)
    )
    assert len(subjects) == 2 * OUTLETS and len(set(subjects)) == 2 * OUTLETS  # each once
    assert sent == {"sent": 2 * OUTLETS}
    assert all(b.crawled().count(o) >= 1 for o in a_outlets)
    # Taken over at the end of the dead daemon's interval: within one interval of the kill
    # (plus the wait that lets a live holder's jittered run renew first).
    assert all(t <= INTERVAL + JITTER + 3 for t in takeover.values()), takeover


def store_rows_after(database: str) -> dict[str, int]:
    store = Store(database)
    try:
        return store.alert_counts()
    finally:
        store.close()
