"""Storage: the SQLite database, kept with sqlite-utils, that users query and browse.

One class owns the connection and the schema; every multi-row write goes through `transaction()`,
which takes the write lock up front (BEGIN IMMEDIATE). sqlite-utils' own `atomic()` opens a
deferred transaction, which under a concurrent writer (the daemon delivering alerts while a child
crawl stores articles) can fail with "database is locked" instead of waiting for the lock.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import sqlite3
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL UNIQUE,          -- canonical URL
    outlet TEXT NOT NULL,
    title TEXT,
    text TEXT NOT NULL,                -- seed form: title line, then the body
    published TEXT,                    -- ISO 8601 or NULL
    fetched_at TEXT NOT NULL,
    updated_at TEXT,
    language TEXT,
    author TEXT,
    sitename TEXT,
    story_id INTEGER,                  -- id of the first article of the story
    content_hash TEXT,
    signature BLOB                     -- MinHash of the body, for near-duplicate detection
);
CREATE INDEX IF NOT EXISTS articles_story ON articles(story_id);
CREATE INDEX IF NOT EXISTS articles_hash ON articles(content_hash);
CREATE INDEX IF NOT EXISTS articles_fetched ON articles(fetched_at);
CREATE TABLE IF NOT EXISTS aliases (    -- every other URL an article was seen under
    url TEXT PRIMARY KEY,
    article_id INTEGER NOT NULL REFERENCES articles(id)
);
CREATE TABLE IF NOT EXISTS matches (
    article_id INTEGER NOT NULL REFERENCES articles(id),
    topic TEXT NOT NULL,
    terms TEXT NOT NULL,               -- JSON list of the words as they appeared
    location TEXT NOT NULL,            -- JSON list: title, body
    snippet TEXT,
    matched_at TEXT NOT NULL,
    PRIMARY KEY (article_id, topic)
);
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY,
    subscriber TEXT NOT NULL,
    kind TEXT NOT NULL,                -- instant | digest-item | digest | operator
    story_id INTEGER,
    topic TEXT,
    article_id INTEGER,
    digest_id INTEGER,                 -- for digest-item rows: the digest that carried it
    status TEXT NOT NULL DEFAULT 'pending',   -- pending | sent | failed
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at TEXT NOT NULL,
    next_attempt_at TEXT,
    sent_at TEXT,
    dedup_key TEXT NOT NULL UNIQUE,    -- one per subscriber, story and topic (or digest period)
    delivered TEXT,                    -- JSON list of digests of the apprise URLs already done
    lease_until REAL,                  -- a deliverer is sending it until then (unix time)
    lease_owner TEXT,                  -- host:pid of that deliverer
    payload TEXT                       -- JSON: what a digest or operator alert contained
);
CREATE INDEX IF NOT EXISTS alerts_status ON alerts(status, next_attempt_at);
CREATE TABLE IF NOT EXISTS validators (  -- HTTP validators per feed/sitemap/homepage URL
    url TEXT PRIMARY KEY,
    etag TEXT,
    last_modified TEXT,
    checked_at TEXT
);
CREATE TABLE IF NOT EXISTS crawls (
    id INTEGER PRIMARY KEY,
    outlet TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL,              -- ok | error
    error TEXT,
    discovered INTEGER DEFAULT 0,
    new_articles INTEGER DEFAULT 0,
    requests INTEGER DEFAULT 0,
    not_modified INTEGER DEFAULT 0,
    matched INTEGER DEFAULT 0
);
CREATE INDEX IF NOT EXISTS crawls_outlet ON crawls(outlet, started_at);
-- Full-text search over accent- and script-folded copies of title and text, so a Latin query finds
-- Cyrillic articles and the reverse; rowid = articles.id.
CREATE VIRTUAL TABLE IF NOT EXISTS articles_search USING fts5(title, text, tokenize='unicode61');
"""


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


class Store:
    """The balkanwatch database. Safe for one writer per process; processes share it through WAL."""

    def __init__(self, path: str | Path, timeout: float = 60.0) -> None:
        path = Path(path)
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=timeout)
        self.path = path
        # Who holds a lease: the host and process (so a killed holder is seen as gone) and this
        # connection (so two deliverers in one process still exclude each other).
        self.lease_owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.db = Database(conn)
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.enable_wal()  # outside any transaction, as SQLite requires
        # NORMAL is durable for committed transactions in WAL mode except on power loss of the OS
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.conn.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Database]:
        """One atomic write that waits for the lock instead of failing under another writer."""
        conn = self.db.conn
        if conn.in_transaction:  # nested: ride along the outer transaction
            yield self.db
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def one(self, sql: str, params: Iterable[Any] = ()) -> dict[str, Any] | None:
        return next(iter(self.db.query(sql, list(params))), None)

    def rows(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        return list(self.db.query(sql, list(params)))

    # -- the seen-set: canonical URLs and aliases -------------------------------------------

    def article_id_for(self, url: str) -> int | None:
        row = self.one(
            "SELECT id FROM articles WHERE url = ? UNION ALL "
            "SELECT article_id FROM aliases WHERE url = ? LIMIT 1",
            (url, url),
        )
        return row["id"] if row else None

    def seen_urls(self, urls: Iterable[str]) -> dict[str, str]:
        """Which of these URLs are stored (as canonical URL or alias), each with the time its
        article was last fetched; one query per batch of 500."""
        urls = list(dict.fromkeys(urls))
        seen: dict[str, str] = {}
        for i in range(0, len(urls), 500):
            chunk = urls[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for r in self.db.query(
                f"SELECT url, coalesce(updated_at, fetched_at) AS at FROM articles "
                f"WHERE url IN ({marks}) UNION ALL "
                f"SELECT s.url, coalesce(a.updated_at, a.fetched_at) FROM aliases s "
                f"JOIN articles a ON a.id = s.article_id WHERE s.url IN ({marks})",
                chunk + chunk,
            ):
                seen[r["url"]] = r["at"]
        return seen

    def add_aliases(self, article_id: int, urls: Iterable[str]) -> None:
        own = self.one("SELECT url FROM articles WHERE id = ?", (article_id,))
        rows = [{"url": u, "article_id": article_id} for u in urls if own and u != own["url"]]
        if rows:
            self.db.table("aliases").insert_all(rows, ignore=True)

    # -- articles ---------------------------------------------------------------------------

    def article(self, article_id: int) -> dict[str, Any] | None:
        return self.one("SELECT * FROM articles WHERE id = ?", (article_id,))

    def story_by_hash(self, content_hash: str) -> int | None:
        row = self.one(
            "SELECT story_id FROM articles WHERE content_hash = ? ORDER BY id LIMIT 1",
            (content_hash,),
        )
        return row["story_id"] if row else None

    def insert_article(self, row: dict[str, Any]) -> int:
        """Insert a new article; its story is itself unless `story_id` is given."""
        table = self.db.table("articles")
        table.insert(row)
        article_id = int(table.last_pk)  # type: ignore[arg-type]
        if not row.get("story_id"):
            self.db.execute(
                "UPDATE articles SET story_id = ? WHERE id = ?", (article_id, article_id)
            )
        return article_id

    def update_article(self, article_id: int, changes: dict[str, Any]) -> None:
        self.db.table("articles").update(article_id, changes)

    def index_search(self, article_id: int, title: str, text: str) -> None:
        from pipelines.topics import normalise

        self.db.execute("DELETE FROM articles_search WHERE rowid = ?", (article_id,))
        self.db.execute(
            "INSERT INTO articles_search (rowid, title, text) VALUES (?, ?, ?)",
            (article_id, normalise(title), normalise(text)),
        )

    def search(self, query: str, limit: int = 20) -> list[dict[str, Any]]:
        """Articles matching every word of the query, newest first, each with a snippet in the
        article's own spelling and script (the index itself holds folded text only)."""
        from pipelines.topics import normalise, snippet_for_words

        fts = fts_query(normalise(query))
        if not fts:
            return []
        rows = self.rows(
            "SELECT a.id, a.url, a.outlet, a.title, a.published, a.fetched_at, a.text "
            "FROM articles_search JOIN articles a ON a.id = articles_search.rowid "
            "WHERE articles_search MATCH ? "
            "ORDER BY coalesce(a.published, a.fetched_at) DESC LIMIT ?",
            (fts, limit),
        )
        words = query.split()
        for row in rows:
            text = row.pop("text")
            body = text.partition("\n")[2]  # a sentence of the body says more than the title
            row["snippet"] = (
                snippet_for_words(body, words)
                or snippet_for_words(text, words)
                or " ".join(body.split())[:200]
            )
        return rows

    def signatures_since(self, since_iso: str) -> Iterator[tuple[str, str, bytes, float]]:
        """(key, story_id, signature, seen_at) rows for rebuilding the near-duplicate index."""
        for r in self.db.query(
            "SELECT id, story_id, signature, fetched_at FROM articles "
            "WHERE signature IS NOT NULL AND fetched_at >= ?",
            [since_iso],
        ):
            yield (
                str(r["id"]),
                str(r["story_id"]),
                r["signature"],
                datetime.fromisoformat(r["fetched_at"]).timestamp(),
            )

    def articles_since(self, since_iso: str) -> Iterator[dict[str, Any]]:
        """Articles fetched since then, newest first, each with the topics it matched when stored
        (`stored_topics`, a JSON list): for trying topics on the archive (`match --archive`)."""
        yield from self.db.query(
            "SELECT a.id, a.url, a.outlet, a.title, a.text, a.published, a.fetched_at, "
            "(SELECT json_group_array(m.topic) FROM matches m WHERE m.article_id = a.id) "
            "AS stored_topics FROM articles a WHERE a.fetched_at >= ? "
            "ORDER BY coalesce(a.published, a.fetched_at) DESC, a.id DESC",
            [since_iso],
        )

    # -- matches ----------------------------------------------------------------------------

    def matched_topics(self, article_id: int) -> set[str]:
        return {
            r["topic"]
            for r in self.db.query("SELECT topic FROM matches WHERE article_id = ?", [article_id])
        }

    def replace_matches(self, article_id: int, matches: list[dict[str, Any]]) -> None:
        self.db.execute("DELETE FROM matches WHERE article_id = ?", (article_id,))
        if matches:
            self.db.table("matches").insert_all(
                [
                    {
                        "article_id": article_id,
                        "topic": m["topic"],
                        "terms": json.dumps(m["terms"], ensure_ascii=False),
                        "location": json.dumps(m["where"]),
                        "snippet": m["snippet"],
                        "matched_at": utcnow(),
                    }
                    for m in matches
                ]
            )

    # -- alerts (the outbox) ----------------------------------------------------------------

    def queue_alert(self, row: dict[str, Any]) -> bool:
        """Add an alert unless one with the same dedup_key exists; True if added."""
        row = {"status": "pending", "attempts": 0, "created_at": utcnow(), **row}
        cur = self.db.execute(
            f"INSERT OR IGNORE INTO alerts ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
            list(row.values()),
        )
        return cur.rowcount == 1

    def due_alerts(
        self, now_iso: str, kinds: tuple[str, ...] = ("instant", "digest", "operator")
    ) -> list[dict[str, Any]]:
        marks = ",".join("?" * len(kinds))
        return self.rows(
            f"SELECT * FROM alerts WHERE status = 'pending' AND kind IN ({marks}) "
            "AND (next_attempt_at IS NULL OR next_attempt_at <= ?) ORDER BY id",
            [*kinds, now_iso],
        )

    def claim(self, alert_id: int, now: float, lease: float = 300.0) -> bool:
        """Take a pending alert for sending, so two deliverers (the daemon and a manual crawl)
        never send the same row at once. A lease ends when it expires or, at once, when the
        process holding it is gone (killed on this host), so a restart after a crash resends
        without waiting."""
        me = self.lease_owner
        with self.transaction():
            row = self.one(
                "SELECT status, lease_until, lease_owner, next_attempt_at FROM alerts WHERE id = ?",
                (alert_id,),
            )
            if row is None or row["status"] != "pending":
                return False
            if (row["next_attempt_at"] or "") > iso(now):
                return False  # failed by another deliverer since it was listed: not due yet
            held = row["lease_until"] is not None and row["lease_until"] >= now
            if held and row["lease_owner"] != me and not _owner_gone(row["lease_owner"]):
                return False
            self.db.execute(
                "UPDATE alerts SET lease_until = ?, lease_owner = ? WHERE id = ?",
                (now + lease, me, alert_id),
            )
        return True

    def release(self, alert_id: int) -> None:
        """Give up our lease; one that ran out and was taken over is the new holder's."""
        self.db.execute(
            "UPDATE alerts SET lease_until = NULL, lease_owner = NULL "
            "WHERE id = ? AND lease_owner = ?",
            (alert_id, self.lease_owner),
        )

    def mark_sent(self, alert_id: int, now_iso: str) -> None:
        with self.transaction():
            self.db.execute(
                "UPDATE alerts SET status = 'sent', sent_at = ?, attempts = attempts + 1, "
                "last_error = NULL, next_attempt_at = NULL WHERE id = ? AND status = 'pending'",
                (now_iso, alert_id),
            )
            # Stories carried by a digest are sent with it.
            self.db.execute(
                "UPDATE alerts SET status = 'sent', sent_at = ? WHERE digest_id = ?",
                (now_iso, alert_id),
            )

    def mark_attempt_failed(
        self, alert_id: int, error: str, next_attempt_iso: str | None, give_up: bool = False
    ) -> None:
        self.db.execute(
            "UPDATE alerts SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?, "
            "status = CASE WHEN ? THEN 'failed' ELSE status END WHERE id = ?",
            (error[:1000], next_attempt_iso, give_up, alert_id),
        )

    # -- HTTP validators (conditional requests) ---------------------------------------------

    def validators(self, url: str) -> dict[str, Any] | None:
        return self.one("SELECT etag, last_modified FROM validators WHERE url = ?", (url,))

    def save_validators(self, url: str, etag: str | None, last_modified: str | None) -> None:
        self.db.table("validators").upsert(
            {"url": url, "etag": etag, "last_modified": last_modified, "checked_at": utcnow()},
            pk="url",
        )

    # -- crawl records ----------------------------------------------------------------------

    def record_crawl(self, row: dict[str, Any]) -> None:
        self.db.table("crawls").insert(row)


def fts_query(folded: str) -> str:
    """An FTS5 query from a folded user query: every word must appear, FTS syntax is inert,
    and a trailing * keeps its meaning of a prefix."""
    terms = []
    for word in folded.split():
        prefix = word.endswith("*")
        word = word.replace('"', "").strip("*")
        if word:
            terms.append(f'"{word}"' + ("*" if prefix else ""))
    return " ".join(terms)


def _owner_gone(owner: str | None) -> bool:
    """True when a lease's holder was a process on this host that no longer runs."""
    host, _, rest = (owner or "").partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
