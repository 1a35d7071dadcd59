"""Where a crawl's time goes, per stage of an article's way through the pipelines.

Cheap enough to stay on in production (two clock reads per stage and article, about a
microsecond): the totals go to Scrapy's stats at the end of the crawl (`stage/<name>/...`), and
to a JSON file when the setting STAGE_REPORT names one (bench/bench_real.py reads it).

Wall time and the CPU time of the thread are kept apart: the extraction wait is all wall, a
commit partly disk.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class Stages:
    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - wall, time.thread_time() - cpu)

    def add(self, name: str, wall: float, cpu: float, calls: int = 1) -> None:
        self.wall[name] = self.wall.get(name, 0.0) + wall
        self.cpu[name] = self.cpu.get(name, 0.0) + cpu
        self.calls[name] = self.calls.get(name, 0) + calls

    def take(self) -> dict[str, tuple[float, float, int]]:
        """The totals so far, and start again (a worker sends its times with each result)."""
        out = {k: (self.wall[k], self.cpu[k], self.calls[k]) for k in self.wall}
        self.wall, self.cpu, self.calls = {}, {}, {}
        return out

    def merge(self, times: dict[str, tuple[float, float, int]], prefix: str = "") -> None:
        for name, (wall, cpu, calls) in times.items():
            self.add(prefix + name, wall, cpu, calls)

    def report(self, stats: Any, path: str | None) -> None:
        """Into Scrapy's stats, and into a JSON file if asked."""
        for name in sorted(self.wall):
            stats.set_value(f"stage/{name}/calls", self.calls[name])
            stats.set_value(f"stage/{name}/cpu_ms", round(self.cpu[name] * 1000, 1))
            stats.set_value(f"stage/{name}/wall_ms", round(self.wall[name] * 1000, 1))
        if path:
            data = {n: {"wall": self.wall[n], "cpu": self.cpu[n], "calls": self.calls[n]}
                    for n in self.wall}  # fmt: skip
            Path(path).write_text(json.dumps(data, indent=1), "utf-8")


STAGES = Stages()  # the crawl process's; each extraction worker has its own
