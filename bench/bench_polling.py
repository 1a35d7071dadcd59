"""Polling cost when nothing changed: 50 outlets, one cycle, after a first crawl stored them.

    .venv/bin/python bench/bench_polling.py [--outlets 50] [--articles 5]

The cycle is what the daemon runs when the outlets fall due together: one child
`scrapy crawl outlets` over all of them. Requests and bytes are counted at the servers; CPU is
the crawl's whole process tree.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.proctree import run_measured  # noqa: E402
from bench.sites import local_outlets  # noqa: E402
from tests.support import write_config  # noqa: E402


def serve(n_outlets: int, articles: int, conn) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime, timedelta
    from email.utils import format_datetime

    from tests.support import FixtureSite, article_page, rss

    sites = []
    for i in range(n_outlets):
        site = FixtureSite(f"127.0.1.{i + 1}")
        items = []
        for j in range(articles):
            path = f"/2026/11/30/story-{j}"
            site.add(
                path,
                article_page(
                    f"Outlet {i} story {j}",
                    [f"Story {j} of outlet {i} about roads and schools."] * 5,
                ),
            )
            when = format_datetime(datetime.now(UTC) - timedelta(hours=j))
            items.append({"title": f"story {j}", "link": site.url(path), "pubDate": when})
        site.add(
            "/feed/",
            rss(items),
            content_type="application/rss+xml",
            etag=f'"feed-{i}"',
            last_modified="Mon, 30 Nov 2026 08:00:00 GMT",
        )
        sites.append(site)
    conn.send([s.base for s in sites])
    while (msg := conn.recv()) != "stop":
        if msg == "reset":
            for s in sites:
                s.sent.clear()
            conn.send(True)
        elif msg == "stats":
            sent = [x for s in sites for x in s.sent]
            conn.send(
                (
                    len(sent),
                    sum(b for _, _, b in sent),
                    sum(1 for _, st, _ in sent if st == 304),
                    sum(1 for p, _, _ in sent if p.startswith("/2026/")),
                )
            )


def cycle(cfg: Path) -> tuple[float, float]:
    wall, cpu, _ = run_measured(
        [sys.executable, "-m", "scrapy", "crawl", "outlets", "-s", "LOG_LEVEL=WARNING"],
        {**os.environ, "BALKANWATCH_CONFIG": str(cfg)},
        ROOT,
    )
    return wall, cpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--outlets", type=int, default=50)
    p.add_argument("--articles", type=int, default=5)
    args = p.parse_args()
    parent, child = multiprocessing.get_context("spawn").Pipe()
    server = multiprocessing.get_context("spawn").Process(
        target=serve, args=(args.outlets, args.articles, child), daemon=True
    )
    server.start()
    bases = parent.recv()
    with tempfile.TemporaryDirectory(prefix="bw-poll-") as tmp:
        cfg = write_config(
            Path(tmp) / "cfg",
            local_outlets(bases, "poll", 4),
        )
        first_wall, first_cpu = cycle(cfg)
        parent.send("stats")
        first = parent.recv()
        parent.send("reset")
        parent.recv()
        wall, cpu = cycle(cfg)
        parent.send("stats")
        requests, body_bytes, not_modified, article_requests = parent.recv()
    parent.send("stop")
    print(f"cpu_count: {os.cpu_count()}")
    print(
        f"first crawl: {first[0]} requests ({first[3]} articles), {first[1] / 1024:.0f} KiB, "
        f"{first_cpu:.2f} CPU s, {first_wall:.1f} s wall"
    )
    print(
        f"no-change cycle of {args.outlets} outlets: {requests} requests "
        f"({not_modified} answered 304, {article_requests} article requests), "
        f"{body_bytes} body bytes, {cpu:.2f} CPU s, {wall:.1f} s wall"
    )


if __name__ == "__main__":
    main()
