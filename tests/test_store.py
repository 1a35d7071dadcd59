"""The Store's methods on both backends (the `database` fixture: SQLite and PostgreSQL): the same
calls give the same answers, so the product runs on either."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from balkanwatch.analysis.topics import TopicMatch
from balkanwatch.core.document import seed_text
from balkanwatch.core.times import to_iso
from balkanwatch.storage.engine import DATABASE_ERRORS, StorageError
from balkanwatch.storage.store import Store
from tests.support import ROOT

T0 = 1_796_000_000.0  # 2026-11-30, a fixed "now" for leases


@pytest.fixture
def store(database: str) -> Iterator[Store]:
    store = Store(database)
    yield store
    store.close()


def add(store: Store, slug: str, outlet: str = "koha", **row: object) -> int:
    title = row.pop("title", slug.title())
    return store.insert_article(
        {
            "url": f"https://example.org/{slug}",
            "outlet": outlet,
            "title": title,
            "text": seed_text(str(title), f"Body of {slug}."),
            "fetched_at": "2026-12-01T08:00:00+00:00",
            **row,
        }
    )


def test_urls_and_aliases_form_one_seen_set(store: Store) -> None:
    first = add(store, "a")
    add(store, "b", fetched_at="2026-12-01T09:00:00+00:00", updated_at="2026-12-02T10:00:00+00:00")
    store.add_aliases(first, ["https://example.org/a", "https://example.org/a?amp=1"])
    store.add_aliases(first, ["https://example.org/a?amp=1"])  # again: nothing changes
    assert store.article_id_for("https://example.org/a?amp=1") == first
    assert store.article_id_for("https://example.org/zzz") is None
    urls = [f"https://example.org/{s}" for s in ["a", "a?amp=1", "b", "c"]] * 300  # > one batch
    assert store.seen_urls(urls) == {
        "https://example.org/a": "2026-12-01T08:00:00+00:00",
        "https://example.org/a?amp=1": "2026-12-01T08:00:00+00:00",
        "https://example.org/b": "2026-12-02T10:00:00+00:00",
    }
    assert store.rows("SELECT count(*) AS n FROM aliases") == [{"n": 1}]


def test_stories_hashes_and_signatures(store: Store) -> None:
    a = add(store, "a", content_hash="h1", signature=b"\x00\x01\xff")
    b = add(store, "b", story_id=a, content_hash="h1")
    c = add(store, "c")
    assert store.article(c)["story_id"] == c  # type: ignore[index]
    assert store.story_by_hash("h1") == a and store.story_by_hash("h2") is None
    assert [r["id"] for r in store.story_copies(a)] == [a, b]
    assert [r["id"] for r in store.story_copies(a, except_id=a)] == [b]
    assert [(r["story_id"], r["id"]) for r in store.story_urls([a, c, a])] == [
        (a, a),
        (a, b),
        (c, c),
    ]
    [(key, story, signature, seen)] = store.signatures_since("2026-01-01")
    assert (key, story, signature) == (str(a), str(a), b"\x00\x01\xff")  # bytes both ways
    assert seen == pytest.approx(1_796_112_000.0)
    assert {r["id"] for r in store.stale_signatures("2026-01-01")} == {b, c}
    store.resign(b, "h2", b"\x02")
    assert {r["id"] for r in store.stale_signatures("2026-01-01")} == {c}
    store.update_article(c, {"title": "Renamed", "updated_at": "2026-12-03T00:00:00+00:00"})
    assert store.article(c)["title"] == "Renamed"  # type: ignore[index]
    assert store.count_articles() == 3 and store.count_articles("koha") == 3
    assert store.count_articles("rts") == 0


def test_matches_are_records_both_ways_and_topic_stories_sort_by_instant(store: Store) -> None:
    # published +01:00 at 09:30 is 08:30 UTC: older than 09:00 UTC, though its text sorts later
    noon = "2026-12-01T12:00:00+00:00"
    a = add(store, "a", published="2026-12-01T09:30:00+01:00", fetched_at=noon)
    b = add(store, "b", published="2026-12-01T09:00:00+00:00", fetched_at=noon)
    copy = add(store, "b-copy", outlet="rts", story_id=b, fetched_at=noon)
    # a published time in the future counts as the fetch time, 08:45
    future = add(store, "c", published="2030-01-01T00:00:00+00:00", fetched_at="2026-12-01T08:45")
    match = TopicMatch("kosovo", ["Kosovo", "KFOR"], ["title", "body"], "… Kosovo …")
    for article in (a, b, copy, future):
        store.replace_matches(article, [match])
    store.replace_matches(a, [match, TopicMatch("albania", ["Tirana"], ["body"], "")])
    assert store.match(a, "kosovo") == match
    assert store.match(a, "nothing") is None
    assert store.matched_topics(a) == {"kosovo", "albania"}
    rows = store.topic_stories("kosovo", 10)
    assert [r["id"] for r in rows] == [b, future, a]  # one row per story, its first copy
    assert rows[0]["terms"] == '["Kosovo", "KFOR"]'
    assert [r["id"] for r in store.topic_stories("kosovo", 1)] == [b]
    since = list(store.articles_since("2026-01-01"))
    assert since[0]["id"] == future  # newest by published time, as stored text
    assert {r["id"]: r["stored_topics"] for r in since}[a] == '["albania", "kosovo"]'


def test_topic_stories_come_from_recent_fetches_yet_know_each_storys_first_copy(
    store: Store,
) -> None:
    """Read over a widening window of fetch times: a story first seen long ago and copied
    today is listed by its first copy, at its own time; a topic with only old stories still
    finds them; the newest stories come first, whatever window held them."""
    now = datetime.now(UTC)

    def ago(days: float) -> str:
        return to_iso(now - timedelta(days=days))

    match = TopicMatch("kosovo", ["Kosovo"], ["body"], "… Kosovo …")
    old_first = add(store, "old-first", fetched_at=ago(10))
    copy_today = add(store, "copy-today", outlet="rts", story_id=old_first, fetched_at=ago(0.1))
    fresh = add(store, "fresh", fetched_at=ago(1))
    ancient = add(store, "ancient", fetched_at=ago(400), published=ago(401))
    for article in (old_first, copy_today, fresh, ancient):
        store.replace_matches(article, [match])
    assert [r["id"] for r in store.topic_stories("kosovo", 1)] == [fresh]
    assert [r["id"] for r in store.topic_stories("kosovo", 2)] == [fresh, old_first]
    assert [r["id"] for r in store.topic_stories("kosovo", 10)] == [fresh, old_first, ancient]
    # `balkanwatch stories`: each story by its own first article, the same windows
    assert [line.story_id for line in store.latest_stories(["kosovo"], None, 2)] == [
        fresh,
        old_first,
    ]
    lines = store.latest_stories(["kosovo"], None, 10)
    assert [line.story_id for line in lines] == [fresh, old_first, ancient]
    assert lines[1].copies == 2
    since = datetime.now(UTC) - timedelta(days=5)
    assert [line.story_id for line in store.latest_stories(["kosovo"], since, 10)] == [fresh]
    tirana = add(store, "tirana", fetched_at=ago(3000))  # older than every window but the last
    store.replace_matches(tirana, [TopicMatch("albania", ["Tirana"], ["body"], "")])
    assert [r["id"] for r in store.topic_stories("albania", 5)] == [tirana]


def test_validators_crawls_and_outlet_state_upsert(store: Store) -> None:
    url = "https://example.org/feed"
    assert store.validators(url) is None
    store.save_validators(url, '"v1"', None)
    store.save_validators(url, '"v2"', "Tue, 01 Dec 2026 08:00:00 GMT")
    assert store.validators(url) == {
        "etag": '"v2"',
        "last_modified": "Tue, 01 Dec 2026 08:00:00 GMT",
    }
    for i, status in enumerate(["ok", "error"]):
        store.record_crawl(
            {"outlet": "koha", "started_at": f"2026-12-01T0{i}:00:00+00:00", "status": status}
        )
    assert [c["status"] for c in store.recent_crawls("koha")] == ["error", "ok"]
    assert store.crawl_recorded_since("koha", "2026-12-01T01:00:00+00:00")
    assert not store.crawl_recorded_since("koha", "2026-12-01T02:00:00+00:00")
    assert store.outlet_state("koha") is None
    store.set_outlet_state("koha", "failing", "2026-12-01", "503")
    store.set_outlet_state("koha", "healthy", "2026-12-02", "")
    assert store.outlet_state("koha") == "healthy"


def test_an_outlets_latest_crawls_are_read_from_the_index_not_sorted_out_of_its_history(
    tmp_path: Path,
) -> None:
    """The daemon reads each running outlet's latest record every half second; after a year of
    records a sort of the outlet's whole history cost 68 ms a call (bench/bench_history.py)."""
    store = Store(tmp_path / "bw.db")
    asked: list[tuple[str, Any]] = []
    query = store.engine.query

    def recording(sql: str, params: Any = ()) -> list[dict[str, Any]]:
        asked.append((sql, params))
        return query(sql, params)

    store.engine.query = recording  # type: ignore[method-assign]
    store.recent_crawls("koha", 1)
    [(sql, params)] = asked
    plan = " | ".join(str(r["detail"]) for r in query(f"EXPLAIN QUERY PLAN {sql}", params))
    assert "crawls_outlet" in plan and "TEMP B-TREE" not in plan, plan
    store.close()


def test_a_transaction_commits_all_or_nothing_and_a_savepoint_fails_alone(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        add(store, "lost")
        raise RuntimeError
    with store.transaction():
        add(store, "kept")
        with pytest.raises(RuntimeError), store.savepoint():
            add(store, "also-lost")
            raise RuntimeError
        with store.transaction():  # nested: rides along
            add(store, "kept-too")
    assert [r["url"][20:] for r in store.rows("SELECT url FROM articles ORDER BY id")] == [
        "kept",
        "kept-too",
    ]


def test_rows_is_for_reading_only(store: Store) -> None:
    with pytest.raises(ValueError, match="SELECT"):
        store.rows("DELETE FROM articles")


def test_the_outbox_counts_and_lists_errors(store: Store) -> None:
    for key in ("k1", "k2"):
        row = {"subscriber": "desk", "kind": "instant", "dedup_key": key}
        assert store.queue_alert(row)
        assert not store.queue_alert(row)  # the same key again: ignored
    first = store.alert_id_for("k1")
    assert first is not None
    store.mark_attempt_failed(first, "smtp down", "2026-12-01T09:00:00+00:00")
    assert store.alert_counts() == {"pending": 2}
    assert [r["last_error"] for r in store.alerts_with_errors()] == ["smtp down"]
    assert [a["dedup_key"] for a in store.due_alerts("2026-12-01T08:00:00+00:00")] == ["k2"]
    due = 1_796_115_600.0  # 2026-12-01T09:00:00Z, the retry time
    assert not store.claim(first, due - 1)  # not due yet
    assert store.claim(first, due) and store.claim(first, due)  # ours: claimed again
    store.mark_sent(first, "2026-12-01T09:00:00+00:00")
    assert store.alert_counts() == {"pending": 1, "sent": 1}
    assert not store.claim(first, due)  # sent rows are never claimed


# -- outlet leases ---------------------------------------------------------------------------


def test_an_outlet_is_leased_to_one_daemon_per_interval(database: str) -> None:
    a, b = Store(database), Store(database)  # two daemons: two holders
    try:
        assert a.claim_outlet("koha", 60, T0)
        assert not b.claim_outlet("koha", 60, T0 + 1)  # A is crawling it
        assert b.claim_outlet("rts", 60, T0 + 1)  # other outlets are free
        a.release_outlet("koha", 60)
        assert not b.claim_outlet("koha", 60, T0 + 30)  # crawled this interval
        assert a.claim_outlet("koha", 60, T0 + 58)  # the holder keeps its own schedule
        a.release_outlet("koha", 60)
        assert b.claim_outlet("koha", 60, T0 + 58 + 60)  # the slot ended: anyone's
        assert not a.claim_outlet("koha", 60, T0 + 58 + 61)
        assert b.outlet_lease("koha")["owner"] == b.holder.token  # type: ignore[index]
        b.release_outlet("koha", 0)  # no crawl ran: free at once
        assert a.claim_outlet("koha", 60, T0 + 58 + 62)
        assert [r["outlet"] for r in a.outlet_leases()] == ["koha", "rts"]
    finally:
        a.close()
        b.close()


def test_a_crawl_longer_than_the_interval_keeps_its_lease_while_renewed(database: str) -> None:
    a, b = Store(database), Store(database)
    try:
        assert a.claim_outlet("koha", 60, T0)
        for t in range(15, 600, 15):  # the daemon renews while its crawl runs
            assert a.renew_outlet("koha", T0 + t + 60)
        assert not b.claim_outlet("koha", 60, T0 + 600)  # still crawling
        a.release_outlet("koha", 60)  # ended after 600 s: the interval is long over
        assert b.claim_outlet("koha", 60, T0 + 601)
        a.release_outlet("koha", 60)  # not A's any more: B's lease stands
        assert b.outlet_lease("koha")["started_at"] is not None  # type: ignore[index]
        assert b.claim_outlet("rts", 60, T0) and not a.renew_outlet("rts", T0 + 60)  # not A's
        assert not a.renew_outlet("koha", T0 + 700)  # B's now
    finally:
        a.close()
        b.close()


def test_a_holder_that_stops_renewing_loses_its_crawl_within_an_interval(database: str) -> None:
    a, b = Store(database), Store(database)
    try:
        assert a.claim_outlet("koha", 60, T0)
        assert a.renew_outlet("koha", T0 + 15 + 60)  # then its host goes silent
        assert not b.claim_outlet("koha", 60, T0 + 74)
        assert b.claim_outlet("koha", 60, T0 + 76)
    finally:
        a.close()
        b.close()


def test_concurrent_first_claims_give_the_outlet_to_one(database: str) -> None:
    Store(database).close()  # migrated before the race
    start = threading.Barrier(6)
    won: list[bool] = []

    def claim() -> None:
        store = Store(database)  # a connection of its own, as another daemon has
        try:
            start.wait()
            won.append(store.claim_outlet("koha", 60, T0))
        finally:
            store.close()

    threads = [threading.Thread(target=claim) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(won) == [False] * 5 + [True]


HOLD_OUTLET = """
import sys
from balkanwatch.storage.engine import DATABASE_ERRORS, StorageError
from balkanwatch.storage.store import Store
assert Store(sys.argv[1]).claim_outlet("koha", 60, float(sys.argv[2]))
print("held", flush=True)
sys.stdin.read()
"""


@pytest.mark.parametrize("killed", [False, True])
def test_a_killed_daemons_crawl_is_taken_over_at_once(database: str, killed: bool) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_OUTLET, database, str(T0)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    store = Store(database)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        if killed:
            holder.kill()  # SIGKILL mid-crawl: no release
            holder.wait()
        assert store.claim_outlet("koha", 60, T0 + 1) is killed
        assert store.claim_outlet("koha", 60, T0 + 61)  # a live holder's lease runs out too
    finally:
        holder.kill()
        holder.communicate()
        store.close()


@pytest.mark.postgres
def test_a_lost_postgresql_connection_fails_one_call_and_then_reconnects(
    postgres_url: str,
) -> None:
    store, admin = Store(postgres_url), Store(postgres_url)
    try:
        add(store, "before")
        # as a server restart or a network cut does
        admin.rows("SELECT pg_terminate_backend(?) AS done", (_backend(store),))
        with pytest.raises(DATABASE_ERRORS):  # the call that meets the loss fails ...
            store.count_articles()
        assert store.count_articles() == 1  # ... the next one has a new connection
        with pytest.raises(StorageError, match="lost in a transaction"), store.transaction():
            add(store, "lost")
            admin.rows("SELECT pg_terminate_backend(?) AS done", (_backend(store),))
            with contextlib.suppress(DATABASE_ERRORS):
                add(store, "fails")
            add(store, "never outside the transaction")
        assert store.count_articles() == 1
    finally:
        store.close()
        admin.close()


def _backend(store: Store) -> int:
    return int(store.rows("SELECT pg_backend_pid() AS pid")[0]["pid"])
