"""The benchmarks still run end to end: bench/bench_real.py on a handful of real pages through the
crawl and bare trafilatura, bench/bench_history.py on a small archive; every figure printed.
Timings are not checked (benchmarks are not tests)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_bench(script: str, *args: str) -> str:
    """What the benchmark printed; it must exit 0."""
    out = subprocess.run(
        [sys.executable, f"bench/{script}", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_bench_real_crawls_every_page_and_prints_its_figures() -> None:
    text = run_bench("bench_real.py", "--pages", "12", "--outlets", "2")
    # Every copy is stored: a unique paragraph each, so nothing was deduplicated away.
    assert re.search(r"pages: 12 \(137 real.*; stored 12,", text), text
    assert re.search(r"full pipeline: [\d.]+ pages/s .* [\d.]+ ms CPU per page", text), text
    assert re.search(r"bare trafilatura, one core: [\d.]+ pages/s .* 12 with text", text), text
    assert float(re.search(r"ratio \(pipeline pages/s / bare pages/s\): ([\d.]+)", text)[1]) > 0
    assert re.search(r"peak RSS: [1-9]\d* MiB in all", text), text
    # The stage table: the pipelines' own timers reached the report.
    for stage in ("fingerprinting", "topic matching", "full-text index", "decoding", "parsing"):
        line = next(line for line in text.splitlines() if stage in line)
        assert re.search(r"\d+\.\d\d$", line), line
    extraction = next(line for line in text.splitlines() if "extraction (trafilatura" in line)
    assert float(extraction.split()[-1]) > 0


def test_bench_history_fills_a_small_archive_and_prints_its_figures() -> None:
    text = run_bench("bench_history.py", "--outlets", "3", "--days", "2", "--articles", "300")
    assert "864 crawl records (3 outlets, 2 days, every 10 min)" in text, text
    assert re.search(r"recent_crawls\(outlet, 1\): p50 [\d.]+ ms", text), text
    assert re.search(r"50 newest stories .* median [\d.]+ ms \(50 stories\)", text), text
    assert re.search(r"`balkanwatch stories --topic kosovo` \(20 lines\) .* \(20 stories\)", text)
