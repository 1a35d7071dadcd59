"""Numbered migrations: a database made by release 0.1 upgrades in place and keeps every row."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from pathlib import Path

import pytest

from balkanwatch.analysis.query import parse_query
from balkanwatch.core.folding import FOLD_VERSION
from balkanwatch.storage import search
from balkanwatch.storage.engine import SQLiteEngine, StorageError, connect
from balkanwatch.storage.migrations import LATEST, current_version, migrate
from balkanwatch.storage.search import SearchQuery
from balkanwatch.storage.store import Store
from pipelines.ingest import build_index

RELEASE_0_1 = Path(__file__).parent / "fixtures" / "db" / "release-0.1.db"
TABLES = ("articles", "aliases", "matches", "alerts", "validators", "crawls", "outlet_state")


def counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


@pytest.fixture
def old_db(tmp_path: Path) -> Path:
    path = tmp_path / "balkanwatch.db"
    shutil.copy(RELEASE_0_1, path)
    return path


def test_a_release_0_1_database_upgrades_in_place_and_keeps_every_row(old_db: Path) -> None:
    before = counts(old_db)
    assert before == {
        "articles": 3, "aliases": 3, "matches": 3, "alerts": 3, "validators": 1, "crawls": 1,
        "outlet_state": 1,
    }  # fmt: skip
    store = Store(old_db)
    assert current_version(store.engine) == LATEST
    assert counts(old_db) == before
    # The upgraded database works: search, the outbox, health state and matches as records.
    # Search works on the index migration 3 rebuilt from the articles.
    hits = store.search(SearchQuery(parse_query("kosov*")))
    assert sorted(h.outlet for h in hits) == ["koha", "n1", "rts"]
    assert len(store.due_alerts("2027-01-01T00:00:00+00:00")) == 3
    assert store.outlet_state("rts") == "failing"
    match = store.match(1, "kosovo")
    assert match is not None and match.terms == ["Kosovo"]
    assert search.index_folding(store.engine) == FOLD_VERSION
    store.close()


def test_signatures_of_an_older_folding_are_made_again(old_db: Path) -> None:
    store = Store(old_db)
    assert len(store.stale_signatures("2000-01-01")) == 3  # release 0.1 recorded no folding
    index = build_index(store, window_days=100_000)
    assert store.stale_signatures("2000-01-01") == []
    versions = {r["fold_version"] for r in store.rows("SELECT fold_version FROM articles")}
    assert versions == {FOLD_VERSION}
    assert len(index) == len(store.rows("SELECT id FROM articles WHERE signature IS NOT NULL"))
    store.close()


def test_a_search_index_of_another_folding_is_rebuilt_at_start_up(database: str) -> None:
    """An index built by a release with another folding holds words today's queries never ask
    for: opening the store indexes every article again and records the folding."""
    store = Store(database)
    store.import_articles(
        [
            {"url": "https://rts.rs/1", "outlet": "rts", "title": "Косово", "language": "sr",
             "text": "Косово\nВлада у Приштини.", "fetched_at": "2026-12-01T10:00:00+00:00"},
        ]
    )  # fmt: skip
    store.engine.execute("UPDATE store_state SET value = '0'")  # an older release's index
    assert store.search(SearchQuery(parse_query("kosovo"))) == []  # not indexed yet
    store.close()
    store = Store(database)
    assert search.index_folding(store.engine) == FOLD_VERSION
    hits = store.search(SearchQuery(parse_query("kosovo")))
    assert [h.url for h in hits] == ["https://rts.rs/1"]
    store.close()
    engine = connect(database)
    assert migrate(engine, "2027-01-01T00:00:00+00:00") == []
    assert search.index_folding(engine) == FOLD_VERSION  # and not rebuilt again
    engine.close()


def test_migrating_twice_changes_nothing(old_db: Path) -> None:
    Store(old_db).close()
    engine = SQLiteEngine(old_db)
    assert migrate(engine, "2027-01-01T00:00:00+00:00") == []
    engine.close()


def test_a_new_database_gets_every_step_once(database: str) -> None:
    engine = connect(database)
    assert migrate(engine, "2027-01-01T00:00:00+00:00") == list(range(1, LATEST + 1))
    assert migrate(engine, "2027-01-02T00:00:00+00:00") == []
    assert current_version(engine) == LATEST
    engine.close()


def test_daemons_starting_together_migrate_once(database: str) -> None:
    """Several processes open a new database at the same moment: one upgrades, the others wait
    for it and find nothing left to do."""
    results: list[list[int]] = []
    start = threading.Barrier(4)

    def open_it() -> None:
        engine = connect(database)
        start.wait()
        results.append(migrate(engine, "2027-01-01T00:00:00+00:00"))
        engine.close()

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results) == [[], [], [], list(range(1, LATEST + 1))]


def test_a_database_from_a_newer_release_is_refused_on_every_backend(database: str) -> None:
    Store(database).close()
    engine = connect(database)
    engine.execute("INSERT INTO schema_migrations VALUES (999, 'future', '2030-01-01')")
    engine.close()
    with pytest.raises(StorageError, match="schema version 999 is newer"):
        Store(database)


def test_a_database_from_a_newer_release_is_refused(old_db: Path) -> None:
    Store(old_db).close()
    with sqlite3.connect(old_db) as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (999, 'future', '2030-01-01')")
    with pytest.raises(StorageError, match="schema version 999 is newer"):
        Store(old_db)
