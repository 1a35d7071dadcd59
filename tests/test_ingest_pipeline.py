"""The ingest pipeline's batched writes: articles arriving together share a transaction, and a
bad one costs only itself."""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from balkanwatch.config import load_config
from crawler.spiders.outlets import OutletRun
from pipelines.crawl import IngestPipeline
from pipelines.ingest import Document
from pipelines.store import Store
from tests.support import write_config

WORDS = [
    "assembly",
    "budget",
    "schools",
    "roads",
    "minister",
    "opposition",
    "bridge",
    "police",
    "court",
    "mayor",
    "election",
    "customs",
    "border",
    "energy",
    "water",
    "hospital",
    "strike",
    "teachers",
    "farmers",
    "museum",
    "railway",
    "airport",
]


def doc(n: int) -> Document:
    """Article n: a text of its own, so no two are copies of one story."""
    rng = random.Random(n)
    body = " ".join(rng.choice(WORDS) for _ in range(120)) + " Kosovo."
    return Document(
        url=f"https://a.example/2026/11/30/{n}",
        outlet="a",
        title=f"Title {n}",
        text=f"Title {n}\n{body}",
        body=body,
        published=None,
        language="en",
    )


@pytest.fixture
def pipeline(tmp_path: Path) -> IngestPipeline:
    cfg = load_config(
        write_config(tmp_path / "cfg", [{"name": "a", "homepage": "https://a.example/"}]), env={}
    )
    spider = SimpleNamespace(config=cfg, store=Store(cfg.database), runs={"a": OutletRun("a")})
    p = IngestPipeline()
    p.open_spider(spider)  # type: ignore[arg-type]
    return p


def test_a_bad_article_in_a_batch_costs_only_itself(pipeline: IngestPipeline) -> None:
    bad = replace(doc(2), text=None)  # type: ignore[arg-type]

    async def main() -> list[object]:
        items = [doc(1), bad, doc(3)]
        return await asyncio.gather(
            *(pipeline.process_item(i) for i in items), return_exceptions=True
        )

    results = asyncio.run(main())
    assert isinstance(results[1], AttributeError)  # text None: the fingerprint fails
    assert [r["status"] for r in (results[0], results[2])] == ["new", "new"]  # type: ignore[index]
    urls = [r["url"] for r in pipeline.store.rows("SELECT url FROM articles ORDER BY id")]
    assert urls == [doc(1).url, doc(3).url]
    assert pipeline.spider.runs["a"].new_articles == 2  # type: ignore[attr-defined]


def test_many_articles_are_written_in_few_transactions(pipeline: IngestPipeline) -> None:
    commits = []
    pipeline.store.db.conn.set_trace_callback(
        lambda sql: commits.append(sql) if sql.strip().upper() == "COMMIT" else None
    )

    async def main() -> None:
        await asyncio.gather(*(pipeline.process_item(doc(n)) for n in range(64)))

    asyncio.run(main())
    assert pipeline.store.one("SELECT count(*) AS n FROM articles") == {"n": 64}
    assert len(commits) == 2  # 64 articles, batches of 32
