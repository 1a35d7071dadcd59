"""What breaking alerts cost: the pure rule on long timelines, and ingest with and without a
subscriber who asks for breaking alerts.

    .venv/bin/python bench/bench_breaking.py [--rounds 3]

The rule is timed on timelines of 10 to 10,000 copies spread over 50 outlets, none ever reaching
the threshold (the whole timeline is scanned). Ingest stores every variant of the 28 dedup
fixture stories (tests/data/dedup/groups, ~12 copies each) at rotating outlets into a fresh SQLite
file through the real Ingester, once without and once with a breaking subscriber, and prints
milliseconds per article: every copy after a story's first runs the breaking check.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from balkanwatch.analysis.dedup import StoryIndex  # noqa: E402
from balkanwatch.analysis.timeline import StoryCopy, Timeline, breaking_spread  # noqa: E402
from balkanwatch.analysis.topics import TopicMatcher  # noqa: E402
from balkanwatch.core.config import load_config  # noqa: E402
from balkanwatch.core.document import Document  # noqa: E402
from balkanwatch.storage.store import Store  # noqa: E402
from pipelines.ingest import Ingester  # noqa: E402
from tests.data.dedup.fixtures import load_groups  # noqa: E402
from tests.support import write_config  # noqa: E402

T0 = datetime(2026, 12, 4, tzinfo=UTC)
OUTLETS = 12


def sparse_timeline(copies: int) -> Timeline:
    """Copies of 50 outlets, each outlet's 3 hours after the previous one: never 2 in 2 h."""
    return Timeline.of(
        1,
        [
            StoryCopy(n, f"o{n % 50}", f"u{n}", "", T0 + timedelta(hours=3 * n), T0, True)
            for n in range(copies)
        ],
    )


def bench_rule(rounds: int) -> None:
    print("rule: breaking_spread on a timeline that never tips (outlets=4, within=2h)")
    for size in (10, 100, 1_000, 10_000):
        t = sparse_timeline(size)
        now = t.copies[-1].time
        best = min(
            _timed(lambda t=t, now=now: breaking_spread(t, 4, 7200, now)) for _ in range(rounds)
        )
        print(f"  {size:>6} copies: {best * 1e6:>9.1f} µs")


def _timed(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def documents() -> list[Document]:
    docs = []
    for g, (name, variants) in enumerate(sorted(load_groups().items())):
        for n, (variant, text) in enumerate(sorted(variants.items())):
            lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
            outlet = f"o{(g + n) % OUTLETS}"
            docs.append(
                Document.of(
                    url=f"https://{outlet}.example/{name}/{variant}",
                    outlet=outlet,
                    title=lines[0],
                    body="\n".join(lines[1:]),
                    published=(T0 + timedelta(minutes=5 * n)).isoformat(),
                    language=None,
                    fetched_at=(T0 + timedelta(minutes=5 * n + 1)).isoformat(),
                )
            )
    return docs


def bench_ingest(rounds: int) -> None:
    docs = documents()
    print(f"ingest: {len(docs)} articles ({len(load_groups())} stories) into a fresh SQLite file")
    outlets = [{"name": f"o{i}", "homepage": f"https://o{i}.example/"} for i in range(OUTLETS)]
    plain = {"name": "desk", "urls": ["json://127.0.0.1:9/"]}
    for label, subscriber in (
        ("without breaking", plain),
        ("with breaking", {**plain, "breaking": {"outlets": 4, "within": "2h"}}),
    ):
        times, queued = [], 0
        for _ in range(rounds):
            with tempfile.TemporaryDirectory() as tmp:
                cfg = load_config(
                    write_config(Path(tmp), outlets, subscribers=[subscriber]), env={}
                )
                store = Store(cfg.database)
                ing = Ingester(store, cfg, TopicMatcher(cfg.topics), StoryIndex())
                start = time.perf_counter()
                for doc in docs:
                    ing.ingest(doc)
                times.append(time.perf_counter() - start)
                queued = len(store.rows("SELECT id FROM alerts WHERE kind = 'breaking'"))
                store.close()
        per = statistics.median(times) / len(docs) * 1e3
        print(
            f"  {label:<17} {per:6.2f} ms/article (median of {rounds}); breaking alerts: {queued}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    bench_rule(args.rounds)
    bench_ingest(args.rounds)


if __name__ == "__main__":
    main()
