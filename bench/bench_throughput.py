"""Crawl throughput against the physical limit: bare trafilatura on one core.

    .venv/bin/python bench/bench_throughput.py [--pages 5000] [--outlets 10]

Serves the synthetic outlets (bench/sites.py) on 127.0.0.x, runs a full `scrapy crawl outlets`
through every pipeline into a fresh database, then runs bare `trafilatura.extract` over the same
HTML in this process (one core). Prints pages/s and CPU seconds per article of both, and the ratio.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.proctree import run_measured  # noqa: E402
from bench.sites import build_outlet, local_outlets, page_bodies, serve_outlets  # noqa: E402
from tests.support import write_config  # noqa: E402

# Local outlets need no politeness: the per-outlet settings below lift it for them only.
CRAWL_SETTINGS = [
    "-s",
    "LOG_LEVEL=WARNING",
    "-s",
    "RETRY_TIMES=0",
]


def run_crawl(bases: list[str], tmp: Path) -> tuple[float, float, int]:
    cfg = write_config(
        tmp / "cfg",
        local_outlets(bases, "bench", 16),
        settings={"max_age_days": 30},
    )
    # The extraction workers are grandchildren: the whole process tree is sampled.
    wall, cpu, _ = run_measured(
        [sys.executable, "-m", "scrapy", "crawl", "outlets", *CRAWL_SETTINGS],
        {**os.environ, "BALKANWATCH_CONFIG": str(cfg)},
        ROOT,
    )
    with sqlite3.connect(cfg / "bw.db") as conn:
        stored = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    return wall, cpu, stored


def run_bare(bodies: list[bytes]) -> tuple[float, float]:
    import trafilatura

    cpu0, t0 = time.process_time(), time.perf_counter()
    for body in bodies:
        trafilatura.extract(body, with_metadata=True, include_comments=False, include_tables=True)
    return time.perf_counter() - t0, time.process_time() - cpu0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--pages", type=int, default=5000)
    p.add_argument("--outlets", type=int, default=10)
    args = p.parse_args()
    per = args.pages // args.outlets
    print(f"building {per * args.outlets} pages for {args.outlets} outlets...", file=sys.stderr)
    outlets = [build_outlet(i, per) for i in range(args.outlets)]
    bodies = page_bodies(outlets)
    sizes = sorted(len(b) for b in bodies)
    bases, procs = serve_outlets(outlets)
    try:
        with tempfile.TemporaryDirectory(prefix="bw-bench-") as tmp:
            print("crawling...", file=sys.stderr)
            wall, cpu, stored = run_crawl(bases, Path(tmp))
    finally:
        for proc in procs:
            proc.terminate()
    print("bare trafilatura...", file=sys.stderr)
    bare_wall, bare_cpu = run_bare(bodies)
    n = len(bodies)
    print(f"cpu_count: {os.cpu_count()}")
    print(
        f"pages: {n}, size median {sizes[n // 2] / 1024:.0f} KB, "
        f"min {sizes[0] / 1024:.0f} KB, max {sizes[-1] / 1024:.0f} KB; stored: {stored}"
    )
    print(
        f"full pipeline: {n / wall:.1f} pages/s ({wall:.1f} s wall), "
        f"{cpu / n * 1000:.1f} ms CPU per article"
    )
    print(
        f"bare trafilatura, one core: {n / bare_wall:.1f} pages/s ({bare_wall:.1f} s wall), "
        f"{bare_cpu / n * 1000:.1f} ms CPU per article"
    )
    print(f"ratio (pipeline pages/s / bare pages/s): {bare_wall / wall:.2f}")


if __name__ == "__main__":
    main()
