"""The reads a long-running daemon repeats, on a database that has run for a while: crawl
records pile up with every crawl of every outlet (50 outlets every 10 minutes: 2.6 million rows
a year), and the daemon reads each running outlet's latest record every half second; the Atom
feeds (after every crawl) and the web front page (every view) read each topic's newest stories.

    .venv/bin/python bench/bench_history.py [--outlets 50] [--days 365] [--interval 10]
        [--articles 100000]

Fills a fresh SQLite database with that many crawl records, and with articles spread over the
same days (every second one matching a topic, stories of three copies), then times
`Store.recent_crawls` (the latest record, and the latest 200 as health and status read them)
over every outlet, the topic's 50 newest stories as the feeds read them, and its 20 newest as
`balkanwatch stories` lists them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from balkanwatch.storage import search  # noqa: E402
from balkanwatch.storage.store import Store  # noqa: E402


def fill(store: Store, outlets: int, days: int, interval_min: int) -> int:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    runs = days * 24 * 60 // interval_min
    rows = [
        (f"outlet{o:02d}", (start + timedelta(minutes=i * interval_min, seconds=o)).isoformat(),
         "ok", 3, 1)
        for i in range(runs)
        for o in range(outlets)
    ]  # fmt: skip
    with store.transaction():
        store.engine.executemany(
            "INSERT INTO crawls (outlet, started_at, status, requests, new_articles) "
            "VALUES (?, ?, ?, ?, ?)",
            rows,
        )
    return len(rows)


def fill_articles(store: Store, n: int, days: int) -> datetime:
    """n articles evenly over the days, every second one matching "kosovo"; the last moment."""
    start = datetime(2025, 1, 1, tzinfo=UTC)
    step = timedelta(days=days) / n
    body = " ".join(["Kosovo Priština vlada skupština budžet NATO KFOR granica policija"] * 33)
    articles, matches = [], []
    for i in range(1, n + 1):
        at = (start + step * i).isoformat()
        articles.append(
            {"id": i, "url": f"https://o{i % 50}.example/{i}", "outlet": f"o{i % 50}",
             "title": f"Story {i}", "text": f"Story {i}\n{body}", "published": at,
             "fetched_at": at, "language": "sr", "story_id": i - i % 3 or i}
        )  # fmt: skip
        if i % 2 == 0:
            matches.append(
                {"article_id": i, "topic": "kosovo", "terms": '["Kosovo"]',
                 "location": '["body"]', "snippet": "… Kosovo …", "matched_at": at}
            )  # fmt: skip
    with store.transaction():
        store.import_articles(articles, matches)
    return start + step * n


def timed(store: Store, outlets: int, limit: int, repeat: int = 5) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        for o in range(outlets):
            started = time.perf_counter()
            store.recent_crawls(f"outlet{o:02d}", limit)
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--outlets", type=int, default=50)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--interval", type=int, default=10, help="minutes between crawls")
    parser.add_argument("--articles", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bw.db"
        store = Store(path)
        started = time.perf_counter()
        n = fill(store, args.outlets, args.days, args.interval)
        print(f"{n:,} crawl records ({args.outlets} outlets, {args.days} days, every "
              f"{args.interval} min) written in {time.perf_counter() - started:.1f} s; "
              f"database {os.path.getsize(path) / 2**20:.0f} MiB")  # fmt: skip
        for limit in (1, 200):
            p50, p95 = timed(store, args.outlets, limit)
            print(f"recent_crawls(outlet, {limit}): p50 {p50:.3f} ms, p95 {p95:.3f} ms")
        end = fill_articles(store, args.articles, args.days)
        times = []
        for _ in range(10):
            started = time.perf_counter()
            rows = search.topic_stories(store.engine, "kosovo", 50, end)
            times.append((time.perf_counter() - started) * 1000)
        print(f"{args.articles:,} articles, half of them matching: a topic's 50 newest stories "
              f"(Atom feed, front page) median {statistics.median(times):.1f} ms "
              f"({len(rows)} stories)")  # fmt: skip
        times = []
        with mock.patch.object(search, "now", lambda: end):  # the archive's last moment
            for _ in range(10):
                started = time.perf_counter()
                lines = store.latest_stories(["kosovo"], None, 20)
                times.append((time.perf_counter() - started) * 1000)
        print(f"`balkanwatch stories --topic kosovo` (20 lines) median "
              f"{statistics.median(times):.1f} ms ({len(lines)} stories)")  # fmt: skip
        store.close()
    print(f"cpu_count: {os.cpu_count()}")


if __name__ == "__main__":
    main()
