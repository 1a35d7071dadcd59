"""Soak: the daemon against local fixture outlets for many crawl cycles; its memory at start
and end.

    .venv/bin/python bench/soak_daemon.py [--cycles 200] [--outlets 2]

Each cycle is one child `scrapy crawl` of one outlet; every few cycles a new article appears so
the pipelines and alert delivery run too. The daemon's own RSS is read from /proc: children come
and go, so a leak in the crawl stays in the child and must not show here.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import FAST, FixtureSite, SMTPSink, article_page, rss, write_config  # noqa: E402

WORDS = [
    "assembly",
    "government",
    "police",
    "border",
    "crossing",
    "north",
    "municipality",
    "minister",
    "mayor",
    "election",
    "court",
    "prosecutor",
    "bridge",
    "road",
    "school",
    "hospital",
    "energy",
    "water",
    "budget",
    "tax",
    "customs",
    "dialogue",
    "agreement",
    "statement",
    "protest",
    "meeting",
    "delegation",
    "envoy",
    "mission",
    "patrol",
    "troops",
    "commander",
    "deputy",
    "party",
    "coalition",
    "opposition",
    "parliament",
    "vote",
    "law",
    "reform",
    "license",
    "plates",
    "documents",
    "trade",
    "export",
    "import",
    "investment",
    "bank",
    "salary",
    "pension",
    "strike",
    "teachers",
    "doctors",
    "farmers",
    "weather",
    "snow",
    "flood",
    "fire",
    "airport",
    "railway",
    "highway",
    "tunnel",
    "museum",
    "festival",
    "church",
    "mosque",
]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def crawls(db: Path) -> int:
    try:
        with sqlite3.connect(db) as conn:
            return int(conn.execute("SELECT count(*) FROM crawls").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--cycles", type=int, default=200)
    p.add_argument("--outlets", type=int, default=2)
    args = p.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bw-soak-"))
    smtp = SMTPSink()
    sites, feeds = [], []
    for i in range(args.outlets):
        site = FixtureSite(f"127.0.0.{20 + i}")
        items: list[dict[str, str]] = []
        site.add(
            "/feed/", lambda items=items: rss(items).encode(), content_type="application/rss+xml"
        )
        sites.append(site)
        feeds.append(items)
    cfg = write_config(
        tmp / "cfg",
        [
            {
                "name": f"soak{i}",
                "homepage": s.url("/"),
                "feeds": [s.url("/feed/")],
                "interval": "1s",
            }
            for i, s in enumerate(sites)
        ],
        subscribers=[{"name": "desk", "urls": [smtp.url()]}],
        settings={"concurrent_crawls": 2},
    )
    proc = subprocess.Popen(
        [sys.executable, "scheduler.py", *FAST],
        cwd=ROOT,
        env={**os.environ, "BALKANWATCH_CONFIG": str(cfg)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    db = tmp / "cfg" / "bw.db"
    try:
        while crawls(db) < args.outlets:
            time.sleep(0.5)
        start_rss, started = rss_kib(proc.pid), time.monotonic()
        samples = [start_rss]
        published = 0
        while (done := crawls(db)) < args.cycles:
            if done // 10 > published:  # a new article every 10 cycles
                site = sites[published % len(sites)]
                path = f"/2026/12/01/soak-{published}"
                # Distinct stories (near-identical texts would rightly be one story, one alert).
                rng = random.Random(published)
                paras = [" ".join(rng.sample(WORDS, 40)) for _ in range(4)]
                site.add(
                    path,
                    article_page(
                        f"Kosovo soak story {published}", [f"Kosovo and KFOR: {p}." for p in paras]
                    ),
                )
                feeds[published % len(sites)].append(
                    {"title": f"soak {published}", "link": site.url(path)}
                )
                published += 1
            samples.append(rss_kib(proc.pid))
            print(
                f"\r{done}/{args.cycles} cycles, daemon RSS {samples[-1] / 1024:.1f} MiB",
                end="",
                file=sys.stderr,
                flush=True,
            )
            time.sleep(1)
        end_rss, elapsed = rss_kib(proc.pid), time.monotonic() - started
        stop_started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        stop_time = time.monotonic() - stop_started
    finally:
        if proc.poll() is None:
            proc.kill()
        for s in sites:
            s.close()
        smtp.stop()
    print(file=sys.stderr)
    print(f"cpu_count: {os.cpu_count()}")
    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    print(
        f"cycles: {crawls(db)} in {elapsed:.0f} s; articles published: {published}, "
        f"stored: {stored}; alerts received: {len(smtp.messages)}"
    )
    print(
        f"daemon RSS start: {start_rss / 1024:.1f} MiB, end: {end_rss / 1024:.1f} MiB, "
        f"max: {max(samples) / 1024:.1f} MiB"
    )
    print(f"stop on SIGTERM: exit {code} in {stop_time:.2f} s")


if __name__ == "__main__":
    main()
