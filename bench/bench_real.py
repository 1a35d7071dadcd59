"""Crawl throughput on real news pages against bare trafilatura on one core, with a per-stage
profile of where each page's time goes.

    .venv/bin/python bench/bench_real.py [--pages 1918] [--outlets 10] [--workers 2]
        [--no-bare] [--profile 40]

The real article HTML of tests/data/extraction-dev (129 pages of 87 publishers) and the Balkan
fixtures (tests/fixtures/homepages, tests/fixtures/pages) are served by 10 loopback outlets
(127.0.0.60+), each with a feed and a sitemap, every copy of a page carrying a paragraph of its
own so that nothing is an exact duplicate. A full `scrapy crawl outlets` runs into a fresh
database; then bare `trafilatura.extract` runs over the same bytes in this process, on one core.

Prints pages/s and CPU ms per page of both and their ratio, the peak resident memory of the
crawl and its workers, and the per-stage table: the pipelines' own timers (pipelines/stages.py),
the crawl process's remaining CPU (downloading and Scrapy's handling), and with --profile N a
cProfile split of the worker's extraction over N pages (decoding, parsing, trafilatura, the
checks around it).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.proctree import TreeCPU, run_tree  # noqa: E402
from bench.sites import (  # noqa: E402
    Entry,
    insert_at,
    real_outlets,
    real_pages,
    real_plan,
    replica,
    serve_real,
)
from tests.support import write_config  # noqa: E402

MIB = 1024 * 1024


def load() -> str:
    """The machine's 1-minute load average: other work on the cores skews wall-clock ratios."""
    return Path("/proc/loadavg").read_text().split()[0]


# Stages of the crawl process, in the order a page meets them (pipelines/stages.py names).
MAIN_STAGES = [
    ("send", "moving the page to a worker (pickling)"),
    ("document", "the worker's result to a Document"),
    ("fingerprint", "fingerprinting (content hash, MinHash)"),
    ("dedup", "near-duplicate index (find, add)"),
    ("match", "topic matching"),
    ("store", "storage (rows, aliases, matches)"),
    ("search index", "full-text index"),
    ("alerts", "alert queueing"),
    ("commit", "transaction commits"),
    ("deliver", "alert delivery at the end"),
]
WORKER_STAGES = [
    ("worker/unpickle", "receiving the page (unpickling)"),
    ("worker/decode", "decoding (the charset decision)"),
    ("worker/parse", "parsing the HTML (once)"),
    ("worker/extract", "extraction (trafilatura and checks)"),
    ("worker/result", "packing the result"),
]
INGEST_STAGES = ["fingerprint", "dedup", "match", "store", "search index", "alerts"]


def config(tmp: Path, bases: list[str]) -> Path:
    topics = yaml.safe_load((ROOT / "config" / "topics.yaml").read_text("utf-8"))["topics"]
    # The shipped topics rarely hit world news: one broad topic makes alerts get queued.
    topics.append({"name": "government", "keywords": ["government", "minister*", "parliament"]})
    return write_config(
        tmp / "cfg",
        real_outlets(bases, 16),
        topics=topics,
        subscribers=[{"name": "desk", "urls": ["json://127.0.0.1:9/x"], "digest": "daily 08:00"}],
        settings={"max_age_days": 30, "log_level": "INFO"},
    )


def run_crawl(
    cfg: Path, workers: int, report: Path, pyspy: str | None
) -> tuple[float, TreeCPU, dict[str, int]]:
    # py-spy samples only the crawl process, and only while it runs (not idle waits)
    spy = (
        [
            str(Path(sys.executable).parent / "py-spy"),
            "record",
            "-r",
            "250",
            "-f",
            "raw",
            "-o",
            pyspy,
            "--",
        ]
        if pyspy
        else []
    )
    cmd = [*spy, sys.executable, "-m", "scrapy", "crawl", "outlets", "-s", "RETRY_TIMES=0"]
    cmd += ["-s", f"EXTRACT_WORKERS={workers}", "-s", f"STAGE_REPORT={report}"]
    wall, tree, _ = run_tree(cmd, {**os.environ, "BALKANWATCH_CONFIG": str(cfg)}, ROOT)
    with sqlite3.connect(cfg / "bw.db") as conn:
        statuses = dict(conn.execute("SELECT 'stored', count(*) FROM articles").fetchall())
        statuses["stories"] = conn.execute(
            "SELECT count(DISTINCT story_id) FROM articles"
        ).fetchone()[0]
        statuses["alerts queued"] = conn.execute("SELECT count(*) FROM alerts").fetchone()[0]
        errors = [
            e
            for (row,) in conn.execute("SELECT error FROM crawls")
            for e in (row or "").split("; ")
            if e
        ]
    if errors:  # pages not stored, and why (the crawls table keeps each outlet's errors)
        print(f"{len(errors)} errors, e.g. {'; '.join(errors[:3])}", file=sys.stderr)
    return wall, tree, statuses


def run_bare(pages: list[bytes], plan: list[list[Entry]]) -> tuple[float, float, int]:
    """Bare trafilatura over the very bytes the outlets served; only the calls are timed."""
    import trafilatura

    wall = cpu = 0.0
    extracted = 0
    offsets = [insert_at(page) for page in pages]
    for entries in plan:
        for e in entries:
            body = replica(pages[e.index], e.copy, e.index, offsets[e.index])
            c0, t0 = time.process_time(), time.perf_counter()
            text = trafilatura.extract(
                body, with_metadata=True, include_comments=False, include_tables=True
            )
            wall += time.perf_counter() - t0
            cpu += time.process_time() - c0
            extracted += bool(text)
    return wall, cpu, extracted


def profile_worker(pages: list[bytes], n: int) -> list[tuple[str, float]]:
    """cProfile over the worker's decoding and extraction of n pages: ms per page by part."""
    import cProfile
    import pstats

    from balkanwatch.analysis.extract import extract_article

    bodies = [replica(pages[i % len(pages)], 0, i) for i in range(n)]
    prof = cProfile.Profile()
    prof.enable()
    for body in bodies:
        extract_article(body, "http://127.0.0.1/news/x")  # decodes and parses as the worker
    prof.disable()
    stats: dict[Any, Any] = pstats.Stats(prof).stats  # type: ignore[attr-defined]

    def cum(name: str, module: str) -> float:
        return sum(v[3] for (file, _, func), v in stats.items() if func == name and module in file)

    decode = cum("decode_html", "charset.py")
    parse = cum("parse_html", "extract.py")
    traf = cum("bare_extraction", "trafilatura")
    total = cum("extract_article", "extract.py") - decode
    # cProfile's overhead inflates Python-heavy parts; the shares, not the sums, are the point.
    return [
        ("decode_html", decode / n * 1000),
        ("parse_html (lxml)", parse / n * 1000),
        ("trafilatura.bare_extraction on the tree", traf / n * 1000),
        ("extract.py's checks around it", (total - parse - traf) / n * 1000),
    ]


def stage_table(report: dict[str, dict[str, float]], tree: TreeCPU, root: int, n: int) -> None:
    ms = 1000 / n

    def cpu(name: str) -> float:
        return report.get(name, {}).get("cpu", 0.0)

    batch = cpu("batch") - sum(cpu(s) for s in INGEST_STAGES)
    report = {**report, "commit": {"cpu": batch, "wall": 0.0}}
    main_cpu = tree.last.get(root, 0.0)
    other_cpu = tree.seconds - main_cpu
    print(f"\nper-stage CPU, ms per page ({n} pages)")
    print(f"  crawl process: {main_cpu * ms:.1f} ms")
    staged = 0.0
    for name, what in MAIN_STAGES:
        staged += report.get(name, {}).get("cpu", 0.0)
        print(f"    {what:<48} {report.get(name, {}).get('cpu', 0.0) * ms:7.2f}")
    print(
        f"    {'download, Scrapy, spider, logging (the rest)':<48} {(main_cpu - staged) * ms:7.2f}"
    )
    print(f"  extraction workers: {other_cpu * ms:.1f} ms")
    wstaged = 0.0
    for name, what in WORKER_STAGES:
        wstaged += cpu(name)
        print(f"    {what:<48} {cpu(name) * ms:7.2f}")
    print(f"    {'pool and pipes (the rest)':<48} {(other_cpu - wstaged) * ms:7.2f}")
    wait = report.get("wait", {}).get("wall", 0.0)
    print(f"  (a page waited {wait * ms:.1f} ms on average for its worker's result, wall)")


def busy(report: dict[str, dict[str, float]], wall: float, workers: int) -> str:
    """How much of the crawl's wall time the workers spent on a page: near 100%, they never
    waited for work, and what slowed the crawl was CPU they could not get (other processes on
    the machine: Linux shares CPU between sessions, not processes), not the pipeline."""
    inside = sum(report.get(name, {}).get("wall", 0.0) for name, _ in WORKER_STAGES)
    cpu = sum(report.get(name, {}).get("cpu", 0.0) for name, _ in WORKER_STAGES)
    return (
        f"extraction workers were on a page {inside / (wall * workers):.0%} of the crawl's "
        f"wall time, running on a core {cpu / inside:.0%} of that"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--pages", type=int, default=0, help="articles in all (default: 14 copies)")
    p.add_argument("--outlets", type=int, default=10)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--no-bare", action="store_true", help="crawl only (memory runs)")
    p.add_argument("--profile", type=int, default=0, help="cProfile the worker over N pages")
    p.add_argument("--pyspy", help="py-spy the crawl process: collapsed stacks to this file")
    args = p.parse_args()
    pages = real_pages()
    total = args.pages or 14 * len(pages)
    plan = real_plan(args.outlets, total, len(pages))
    sizes = sorted(len(pages[e.index]) for entries in plan for e in entries)
    print(f"serving {total} pages from {len(pages)} real ones on {args.outlets} outlets...",
          file=sys.stderr)  # fmt: skip
    bases, server = serve_real(plan)
    try:
        with tempfile.TemporaryDirectory(prefix="bw-real-") as tmp:
            cfg, report = config(Path(tmp), bases), Path(tmp) / "stages.json"
            print("crawling...", file=sys.stderr)
            load_before = load()
            wall, tree, db = run_crawl(cfg, args.workers, report, args.pyspy)
            crawl_load = f"{load_before} before, {load()} after"
            stages = json.loads(report.read_text("utf-8"))
    finally:
        server.terminate()
    n = total
    print(f"cpu_count: {os.cpu_count()}, extraction workers: {args.workers}")
    print(
        f"pages: {n} ({len(pages)} real, median {sizes[n // 2] / 1024:.0f} KB, "
        f"max {sizes[-1] / 1024:.0f} KB); {', '.join(f'{k} {v}' for k, v in db.items())}"
    )
    print(
        f"full pipeline: {n / wall:.1f} pages/s ({wall:.1f} s wall), "
        f"{tree.seconds / n * 1000:.1f} ms CPU per page (crawl and workers); "
        f"load average {crawl_load}"
    )
    root = tree.root  # the scrapy process itself
    workers = sorted(v for k, v in tree.peak_by_pid.items() if k != root)
    print(
        f"peak RSS: {tree.peak_rss / MIB:.0f} MiB in all; crawl process "
        f"{tree.peak_by_pid.get(root, 0) / MIB:.0f} MiB, other processes (fork server, workers) "
        f"{', '.join(f'{w / MIB:.0f}' for w in workers)} MiB; tree at 25/50/75/95% of the run: "
        + ", ".join(f"{tree.rss_at(f) / MIB:.0f}" for f in (0.25, 0.5, 0.75, 0.95))
        + " MiB"
    )
    stage_table(stages, tree, root, n)
    print("  " + busy(stages, wall, args.workers))
    if args.profile:
        print(f"\nworker's extraction under cProfile, ms per page ({args.profile} pages):")
        for what, value in profile_worker(pages, args.profile):
            print(f"    {what:<48} {value:7.2f}")
    if args.no_bare:
        return
    print("bare trafilatura...", file=sys.stderr)
    load_before = load()
    bare_wall, bare_cpu, extracted = run_bare(pages, plan)
    print(
        f"\nbare trafilatura, one core: {n / bare_wall:.1f} pages/s ({bare_wall:.1f} s), "
        f"{bare_cpu / n * 1000:.1f} ms CPU per page; {extracted} with text; "
        f"load average {load_before} before, {load()} after"
    )
    # What the CPU figures allow on idle cores: the crawl's CPU spread over all of them.
    cores = min(args.workers, os.cpu_count() or 1)
    print(f"CPU bound on {cores} idle cores: {cores * bare_cpu / tree.seconds:.2f}")
    print(f"ratio (pipeline pages/s / bare pages/s): {bare_wall / wall:.2f}")


if __name__ == "__main__":
    main()
