"""datasette/metadata.yml against the real schema: every table is labelled, every described column
exists, and every canned query runs (with sqlite3, always) and answers what its title promises.
If Datasette is installed (`pip install '.[web]'`), the metadata and plugin are loaded in it too."""

from __future__ import annotations

import asyncio
import importlib.util
import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from balkanwatch.analysis.dedup import StoryIndex
from balkanwatch.analysis.topics import TopicMatcher
from balkanwatch.core.config import Config, Outlet, Settings, Subscriber, Topic
from balkanwatch.core.document import Document
from balkanwatch.core.times import iso
from balkanwatch.storage.store import Store
from pipelines.ingest import Ingester

ROOT = Path(__file__).resolve().parent.parent
METADATA = ROOT / "datasette" / "metadata.yml"
PLUGINS = ROOT / "datasette" / "plugins"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

TOPICS = [
    Topic(name="kosovo-security", keywords=["Kosovo", "NATO", "KFOR"]),
    Topic(name="energy", keywords=["struja", "energija"]),
]
BODY_KFOR = (  # long enough (25+ words) to be recognised as the same story at another outlet
    "Trupat e KFOR-it kanë shtuar patrullimet në veri të Kosovës pas tensioneve të javës së "
    "kaluar. Sipas zëdhënësit, patrullimet do të vazhdojnë deri në qetësimin e situatës."
)
# (url, outlet, title, body, published)
ARTICLES = [
    ("https://www.koha.net/1", "koha", "Patrullime të KFOR-it", BODY_KFOR, "2026-11-30T07:00:00"),
    (
        "https://www.rts.rs/2",
        "rts",
        "Косово и НАТО",
        "Представници НАТО-а посетили су Косово и разговарали о безбедности, саопштио је Београд.",
        "2026-11-30T09:00:00+00:00",
    ),
    (
        "https://n1info.rs/3",
        "n1",
        "Cijena struje raste",
        "Regulator je odobrio novu cijenu "
        "struje od januara, a energija će poskupjeti za domaćinstva.",
        None,
    ),
    ("https://www.rts.rs/4", "rts", "Патроле КФОР-а", BODY_KFOR, "2026-11-30T10:00:00+00:00"),
]


def load_plugin() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "balkanwatch_fold", PLUGINS / "balkanwatch_fold.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def metadata() -> dict[str, Any]:
    return yaml.safe_load(METADATA.read_text("utf-8"))


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """balkanwatch.db (Datasette names the database after the file) with a bit of everything."""
    path = tmp_path_factory.mktemp("web") / "balkanwatch.db"
    outlets = [Outlet(name=n, homepage=f"https://{n}.example/") for n in ("koha", "rts", "n1")]
    subs = [Subscriber(name="desk", urls=["json://localhost/"])]
    cfg = Config(path.parent, Settings(), outlets, TOPICS, subs, path)
    store = Store(path)
    ingester = Ingester(store, cfg, TopicMatcher(TOPICS), StoryIndex())
    for i, (url, outlet, title, body, published) in enumerate(ARTICLES):
        ingester.ingest(
            Document.of(
                url=url,
                outlet=outlet,
                title=title,
                body=body,
                published=published,
                language=None,
                fetched_at=iso((NOW - timedelta(hours=4 - i)).timestamp()),
            )
        )
    for minutes, outlet, status, new in [
        (90, "rts", "ok", 2),
        (60, "rts", "error", 0),
        (30, "rts", "error", 0),
        (30, "koha", "ok", 1),
        (20, "n1", "ok", 0),
        (10, "n1", "ok", 0),
    ]:
        started = iso((NOW - timedelta(minutes=minutes)).timestamp())
        store.record_crawl(
            {
                "outlet": outlet,
                "started_at": started,
                "status": status,
                "error": "HTTP 503" if status == "error" else None,
                "new_articles": new,
            }
        )
    first = store.rows("SELECT id FROM alerts ORDER BY id")[0]["id"]
    store.mark_attempt_failed(first, "connection refused", None, give_up=True)
    store.mark_sent(first + 1, iso(NOW.timestamp()))
    store.close()
    return path


@pytest.fixture
def conn(db_path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection with the plugin's functions, as Datasette would prepare it."""
    c = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    c.row_factory = sqlite3.Row
    load_plugin().prepare_connection(c)
    yield c
    c.close()


def queries(metadata: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return metadata["databases"]["balkanwatch"]["queries"]


def run_query(conn: sqlite3.Connection, sql: str, **params: str) -> list[dict[str, Any]]:
    """Datasette binds every :name of a canned query, as '' when the form leaves it empty."""
    names = set(re.findall(r"(?<![:\w]):(\w+)", sql))
    bound = {n: params.get(n, "") for n in names}
    assert set(params) <= names, f"unknown parameters {set(params) - names}"
    return [dict(r) for r in conn.execute(sql, bound)]


# -- the metadata matches the schema ------------------------------------------------------------


def test_every_table_is_labelled(metadata: dict[str, Any], conn: sqlite3.Connection) -> None:
    tables = {
        r["name"]
        for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        if not r["name"].startswith(("sqlite_", "search_index_"))  # FTS5 shadow tables
    }
    described = metadata["databases"]["balkanwatch"]["tables"]
    assert set(described) == tables
    for name, table in described.items():
        assert table.get("title") and table.get("description"), name


def test_described_columns_exist(metadata: dict[str, Any], conn: sqlite3.Connection) -> None:
    for name, table in metadata["databases"]["balkanwatch"]["tables"].items():
        columns = {r["name"] for r in conn.execute(f"PRAGMA table_info({name})")}
        used = set(table.get("columns", {})) | set(table.get("facets", []))
        used |= {table[k] for k in ("sort_desc", "sort", "label_column") if k in table}
        assert used <= columns, (name, used - columns)


def test_table_search_box_is_off(metadata: dict[str, Any]) -> None:
    # The index's rowid is an order key, not articles.id, and a raw FTS query would miss the
    # word forms: searching goes through the "search" query (the plugin's functions).
    assert "fts_table" not in metadata["databases"]["balkanwatch"]["tables"]["articles"]


# -- every canned query runs and answers ----------------------------------------------------------


def test_every_canned_query_runs_with_empty_parameters(
    metadata: dict[str, Any], conn: sqlite3.Connection
) -> None:
    for name, query in queries(metadata).items():
        assert query.get("title") and query.get("description"), name
        run_query(conn, query["sql"])  # raises on a bad column, function or syntax


@pytest.mark.parametrize(
    ("topic", "titles"),
    [
        ("", ["Патроле КФОР-а", "Cijena struje raste", "Косово и НАТО", "Patrullime të KFOR-it"]),
        ("kosovo-security", ["Патроле КФОР-а", "Косово и НАТО", "Patrullime të KFOR-it"]),
        ("energy", ["Cijena struje raste"]),
        ("no-such-topic", []),
    ],
)
def test_latest_matches(
    metadata: dict[str, Any], conn: sqlite3.Connection, topic: str, titles: list[str]
) -> None:
    rows = run_query(conn, queries(metadata)["latest_matches"]["sql"], topic=topic)
    assert [r["title"] for r in rows] == titles


def test_outlet_health(metadata: dict[str, Any], conn: sqlite3.Connection) -> None:
    rows = run_query(conn, queries(metadata)["outlet_health"]["sql"])
    assert [
        (r["outlet"], r["result"], r["consecutive_failures"], r["runs_without_new"], r["articles"])
        for r in rows
    ] == [("rts", "error", 2, 2, 2), ("n1", "ok", 0, 2, 1), ("koha", "ok", 0, 0, 1)]
    assert rows[0]["error"] == "HTTP 503"
    assert rows[0]["last_success"] == "2026-11-30T10:30:00+00:00"


def test_pending_alerts(metadata: dict[str, Any], conn: sqlite3.Connection) -> None:
    rows = run_query(conn, queries(metadata)["pending_alerts"]["sql"])
    assert [r["status"] for r in rows] == ["failed", "pending"]  # the sent one is gone
    assert rows[0]["last_error"] == "connection refused"
    assert "dedup_key" not in rows[0] and "payload" not in rows[0]


@pytest.mark.parametrize(
    ("q", "titles"),
    [
        (
            "Kosovo",
            ["Патроле КФОР-а", "Косово и НАТО", "Patrullime të KFOR-it"],
        ),  # Cyrillic article; sq Kosovës
        ("Косово", ["Патроле КФОР-а", "Косово и НАТО", "Patrullime të KFOR-it"]),
        ("Beograd", ["Косово и НАТО"]),
        ("patrullimet", ["Патроле КФОР-а", "Patrullime të KFOR-it"]),  # newest first
        ("kosov*", ["Патроле КФОР-а", "Косово и НАТО", "Patrullime të KFOR-it"]),
        ("cijena struje", ["Cijena struje raste"]),
        ("cijena nato", []),
        ("", []),
        ('" OR 1 NEAR(', []),
        ("nato", ["Косово и НАТО"]),  # forms: НАТО-а
        ("kosovo -NATO", ["Патроле КФОР-а", "Patrullime të KFOR-it"]),
    ],
)
def test_search(
    metadata: dict[str, Any], conn: sqlite3.Connection, q: str, titles: list[str]
) -> None:
    rows = run_query(conn, queries(metadata)["search"]["sql"], q=q)
    assert [r["title"] for r in rows] == titles


def test_stories_with_copies(metadata: dict[str, Any], conn: sqlite3.Connection) -> None:
    rows = run_query(conn, queries(metadata)["stories_with_copies"]["sql"])
    assert [(r["title"], r["copies"], r["outlets"]) for r in rows] == [
        ("Patrullime të KFOR-it", 2, "koha,rts")
    ]


@pytest.mark.parametrize(
    ("query", "inside"),
    [
        ("Kosovo", ['"kosovo"', '"kosova"', '"kosoves"']),
        ("Ђурић  Beograd", ['"djuric"', '"beograd"', " AND "]),
        ("kosov*", ['"kosov"*']),
        ("kosovo -srbija", [" NOT ", '"srbija"']),
    ],
)
def test_fts_query(query: str, inside: list[str]) -> None:
    expression = load_plugin().fts_query(query)
    assert all(part in expression for part in inside), expression


@pytest.mark.parametrize("query", ["*", "", None, 'say "NATO', "-srbija"])
def test_fts_query_of_nothing_matches_nothing(query: str | None) -> None:
    assert load_plugin().fts_query(query) == '""'


def test_search_snippet_is_in_the_article_script(
    metadata: dict[str, Any], conn: sqlite3.Connection
) -> None:
    rows = run_query(conn, queries(metadata)["search"]["sql"], q="kosovo")
    snippets = {r["title"]: r["snippet"] for r in rows}
    assert snippets["Косово и НАТО"].startswith("Представници НАТО-а посетили су [Косово] и")
    assert "veri të [Kosovës] pas" in snippets["Patrullime të KFOR-it"]


# -- in Datasette itself, when it is installed ----------------------------------------------------


def test_loads_in_datasette(db_path: Path, metadata: dict[str, Any]) -> None:
    # Not `import datasette`: without Datasette installed that finds the repository's datasette/
    # directory as a namespace package; an installed Datasette (a regular package) wins over it.
    datasette_app = pytest.importorskip("datasette.app")

    async def check() -> None:
        ds = datasette_app.Datasette([str(db_path)], metadata=metadata, plugins_dir=str(PLUGINS))
        await ds.invoke_startup()
        r = await ds.client.get("/balkanwatch/search.json?q=NATO&_shape=array")
        assert r.status_code == 200, r.text
        assert [row["title"] for row in r.json()] == ["Косово и НАТО"]
        for name in queries(metadata):
            r = await ds.client.get(f"/balkanwatch/{name}.json?_shape=array")
            assert r.status_code == 200, (name, r.text)

    asyncio.run(check())
