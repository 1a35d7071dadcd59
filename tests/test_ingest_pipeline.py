"""The ingest pipeline's batched writes: articles arriving together share a transaction, and a
bad one costs only itself."""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace
from pathlib import Path

import pytest

from balkanwatch.core.config import Outlet, load_config
from balkanwatch.core.document import Document
from crawler.context import CrawlContext
from pipelines.crawl import IngestPipeline, to_document
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
    return Document.of(f"https://a.example/2026/11/30/{n}", "a", f"Title {n}", body, language="en")


@pytest.fixture
def pipeline(tmp_path: Path) -> IngestPipeline:
    cfg = load_config(
        write_config(tmp_path / "cfg", [{"name": "a", "homepage": "https://a.example/"}]), env={}
    )
    ctx = CrawlContext(cfg)
    ctx.select(["a"])
    return IngestPipeline(ctx)


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
    assert pipeline.ctx.runs["a"].new_articles == 2


def test_many_articles_are_written_in_few_transactions(pipeline: IngestPipeline) -> None:
    commits = []
    pipeline.store.engine.db.conn.set_trace_callback(  # type: ignore[attr-defined]
        lambda sql: commits.append(sql) if sql.strip().upper() == "COMMIT" else None
    )

    async def main() -> None:
        await asyncio.gather(*(pipeline.process_item(doc(n)) for n in range(64)))

    asyncio.run(main())
    assert pipeline.store.one("SELECT count(*) AS n FROM articles") == {"n": 64}
    assert len(commits) == 2  # 64 articles, batches of 32


def extracted(**kw: object) -> object:
    from balkanwatch.analysis.extract import Extracted

    base = {
        "title": "T",
        "text": "T\nbody",
        "body": "body",
        "published": None,
        "author": None,
        "language": None,
        "sitename": None,
        "canonical_url": None,
    }
    return Extracted(**{**base, **kw})  # type: ignore[arg-type]


def page(**kw: object) -> object:
    from crawler.items import ArticlePage

    base = {
        "url": "https://www.koha.net/a/1",
        "outlet": "koha",
        "html": b"",
        "charset": None,
        "response_url": "https://www.koha.net/a/1",
        "fetched_at": "2026-12-01T08:00:00+00:00",
        "aliases": ["https://www.koha.net/a/1"],
    }
    return ArticlePage(**{**base, **kw})  # type: ignore[arg-type]


KOHA = Outlet(name="koha", homepage="https://www.koha.net/", language="sq")


@pytest.mark.parametrize(
    ("ex", "pg", "field", "expected"),
    [
        (extracted(), page(), "language", "sq"),  # none detected: the outlet's language
        (extracted(language="sr"), page(), "language", "sr"),  # the page's own language wins
        (
            extracted(canonical_url="https://www.koha.net/a/1-slug"),
            page(),
            "url",
            "https://www.koha.net/a/1-slug",
        ),
        (
            extracted(canonical_url="https://evil.example/a/1"),
            page(),
            "url",
            "https://www.koha.net/a/1",
        ),  # a canonical on another domain is ignored
        (
            extracted(title=None, text="body"),
            page(feed_title="From the feed"),
            "text",
            "From the feed\nbody",
        ),
        (
            extracted(),
            page(feed_published="2026-11-30T10:00:00+00:00"),
            "published",
            "2026-11-30T10:00:00+00:00",
        ),
    ],
)
def test_to_document(ex: object, pg: object, field: str, expected: str) -> None:
    assert getattr(to_document(pg, ex, KOHA), field) == expected  # type: ignore[arg-type]


def test_to_document_keeps_other_urls_as_aliases() -> None:
    doc_ = to_document(
        page(aliases=["https://www.koha.net/a/1", "https://www.koha.net/a/1/amp"]),
        extracted(canonical_url="https://www.koha.net/a/1-slug"),
        KOHA,  # type: ignore[arg-type]
    )
    assert doc_.url == "https://www.koha.net/a/1-slug"
    assert doc_.aliases == ("https://www.koha.net/a/1", "https://www.koha.net/a/1/amp")
