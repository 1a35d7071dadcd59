"""The store: every read and write of balkanwatch's database, behind one typed interface.

Callers (the pipelines, the deliverer, the daemon, the CLI) use methods; SQL lives in this
package only. The same methods run on SQLite (default, a file kept with sqlite-utils) and
PostgreSQL (several daemons on several hosts sharing one database); see `engine.py`.

Opening a store runs the schema migrations (`migrations.py`), so an older database upgrades in
place before anything reads it.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from balkanwatch.analysis.timeline import Timeline, copy_of
from balkanwatch.analysis.topics import TopicMatch
from balkanwatch.core.document import split_seed
from balkanwatch.core.folding import FOLD_VERSION
from balkanwatch.core.times import timestamp, utcnow
from balkanwatch.storage import search
from balkanwatch.storage.engine import Engine, connect, is_postgres_url
from balkanwatch.storage.leases import OutletLeases
from balkanwatch.storage.migrations import migrate
from balkanwatch.storage.outbox import Outbox
from balkanwatch.storage.search import SearchHit, SearchQuery, StoryLine

_CHUNK = 500  # URLs per IN (...) query


class OutletRecent(NamedTuple):
    titles: list[str]  # raw <title>s, newest first
    bodies: list[str]  # bodies as extracted (furniture included), one per story, newest first


class Store(Outbox, OutletLeases):
    """The balkanwatch database; one connection, one writer at a time within a process."""

    def __init__(self, database: str | Path, timeout: float = 60.0) -> None:
        self.database = str(database)
        self.path = Path(database) if not is_postgres_url(database) else None
        self.engine: Engine = connect(database, timeout)
        try:
            migrate(self.engine, utcnow())
        except BaseException:
            self.engine.close()  # a refused or failed upgrade leaves no connection open
            raise
        super().__init__(self.engine)

    def close(self) -> None:
        self.engine.close()

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        """One atomic write; it waits for the lock instead of failing under another writer."""
        return self.engine.transaction()

    def savepoint(self) -> contextlib.AbstractContextManager[None]:
        """A part of the current transaction that fails alone (one article of a batch)."""
        return self.engine.savepoint()

    def rows(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        """A read-only ad-hoc query (tests, operators' scripts); the product uses methods."""
        if not sql.lstrip().upper().startswith(("SELECT", "WITH")):
            raise ValueError("Store.rows is for SELECT statements only")
        return self.engine.query(sql, params)

    def one(self, sql: str, params: Iterable[Any] = ()) -> dict[str, Any] | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    # -- the seen-set: canonical URLs and aliases -------------------------------------------

    def article_id_for(self, url: str) -> int | None:
        row = self.engine.one(
            "SELECT id FROM articles WHERE url = ? UNION ALL "
            "SELECT article_id FROM aliases WHERE url = ? LIMIT 1",
            (url, url),
        )
        return int(row["id"]) if row else None

    def seen_urls(self, urls: Iterable[str]) -> dict[str, str]:
        """Which of these URLs are stored (as canonical URL or alias), each with the time its
        article was last fetched; one query per batch of 500."""
        urls = list(dict.fromkeys(urls))
        seen: dict[str, str] = {}
        for i in range(0, len(urls), _CHUNK):
            chunk = urls[i : i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for r in self.engine.query(
                f"SELECT url, coalesce(updated_at, fetched_at) AS at FROM articles "
                f"WHERE url IN ({marks}) UNION ALL "
                f"SELECT s.url, coalesce(a.updated_at, a.fetched_at) AS at FROM aliases s "
                f"JOIN articles a ON a.id = s.article_id WHERE s.url IN ({marks})",
                chunk + chunk,
            ):
                seen[r["url"]] = r["at"]
        return seen

    def add_aliases(self, article_id: int, urls: Iterable[str]) -> None:
        own = self.engine.one("SELECT url FROM articles WHERE id = ?", (article_id,))
        for url in urls:
            if own and url != own["url"]:
                self.engine.execute(
                    "INSERT INTO aliases (url, article_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                    (url, article_id),
                )

    # -- articles ---------------------------------------------------------------------------

    def article(self, article_id: int) -> dict[str, Any] | None:
        return self.engine.one("SELECT * FROM articles WHERE id = ?", (article_id,))

    def count_articles(self, outlet: str | None = None) -> int:
        if outlet is None:
            row = self.engine.one("SELECT count(*) AS n FROM articles")
        else:
            row = self.engine.one("SELECT count(*) AS n FROM articles WHERE outlet = ?", (outlet,))
        return int(row["n"]) if row else 0

    def story_by_hash(self, content_hash: str) -> int | None:
        row = self.engine.one(
            "SELECT story_id FROM articles WHERE content_hash = ? ORDER BY id LIMIT 1",
            (content_hash,),
        )
        return int(row["story_id"]) if row else None

    def story_copies(self, story_id: int, except_id: int | None = None) -> list[dict[str, Any]]:
        """The articles of a story in the order they were stored: id, outlet, url, times."""
        rows = self.engine.query(
            "SELECT id, outlet, url, title, published, fetched_at FROM articles "
            "WHERE story_id = ? ORDER BY id",
            (story_id,),
        )
        return [r for r in rows if r["id"] != except_id]

    # -- story timelines ----------------------------------------------------------------------

    def story_timeline(self, story_id: int) -> Timeline:
        """Every copy of a story (outlet, time, URL), earliest first; empty if unknown."""
        return self.story_timelines([story_id])[story_id]

    def story_timelines(self, story_ids: Iterable[int]) -> dict[int, Timeline]:
        """`story_timeline` of each of these stories, in one query per 500."""
        ids = list(dict.fromkeys(int(i) for i in story_ids))
        rows: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            for r in self.engine.query(
                "SELECT id, story_id, outlet, url, title, published, fetched_at FROM articles "
                f"WHERE story_id IN ({','.join('?' * len(chunk))})",
                chunk,
            ):
                rows[int(r["story_id"])].append(r)
        return {i: Timeline.of(i, [copy_of(r) for r in found]) for i, found in rows.items()}

    def story_of(self, article_id: int) -> int | None:
        """The story an article belongs to."""
        row = self.engine.one("SELECT story_id FROM articles WHERE id = ?", (article_id,))
        return int(row["story_id"]) if row and row["story_id"] is not None else None

    def lock_story(self, story_id: int) -> None:
        """Hold the story until this transaction ends, so that transactions adding copies of one
        story at the same time (daemons on several hosts sharing PostgreSQL) read its timeline
        one after the other, the later one seeing the earlier one's copy: otherwise each could
        see one outlet short of a threshold they reach together. SQLite needs no lock: a write
        transaction there holds the whole database (BEGIN IMMEDIATE)."""
        if self.engine.dialect == "postgresql":
            # the two-key form: its key space is apart from the migrations' single key
            self.engine.execute(
                "SELECT pg_advisory_xact_lock(8192, CAST(? AS integer))", (story_id % 2**31,)
            )

    def story_topics(self, story_id: int) -> list[str]:
        """The topics any copy of the story matched, by name."""
        rows = self.engine.query(
            "SELECT DISTINCT m.topic FROM matches m JOIN articles a ON a.id = m.article_id "
            "WHERE a.story_id = ? ORDER BY m.topic",
            (story_id,),
        )
        return [r["topic"] for r in rows]

    def insert_article(self, row: dict[str, Any]) -> int:
        """Insert a new article; its story is itself unless `story_id` is given."""
        row = _with_fold_version(row)
        article_id = self.engine.insert(
            f"INSERT INTO articles ({', '.join(row)}) VALUES ({', '.join('?' * len(row))}) "
            "RETURNING id",
            list(row.values()),
        )
        if not row.get("story_id"):
            self.engine.execute(
                "UPDATE articles SET story_id = ? WHERE id = ?", (article_id, article_id)
            )
        return article_id

    def update_article(self, article_id: int, changes: dict[str, Any]) -> None:
        changes = _with_fold_version(changes)
        sets = ", ".join(f"{k} = ?" for k in changes)
        self.engine.execute(
            f"UPDATE articles SET {sets} WHERE id = ?", [*changes.values(), article_id]
        )

    def outlet_recent(self, outlet: str, limit: int = 50) -> OutletRecent:
        """The raw `<title>`s and the bodies as extracted of an outlet's `limit` most recent
        articles: what extraction learns the outlet's title affix and furniture from.

        One body per story (a story's copies and updates would make its own lines look like
        the outlet's template); each with the furniture lines dropped from it put back.
        """
        rows = self.engine.query(
            "SELECT story_id, page_title, text, furniture FROM articles WHERE outlet = ? "
            "ORDER BY id DESC LIMIT ?",
            (outlet, limit),
        )
        titles = [r["page_title"] for r in rows if r["page_title"]]
        bodies: dict[Any, str] = {}
        for r in rows:
            if r["story_id"] not in bodies:
                body = split_seed(r["text"])[1]
                bodies[r["story_id"]] = f"{body}\n{r['furniture']}" if r["furniture"] else body
        return OutletRecent(titles=titles, bodies=list(bodies.values()))

    def signatures_since(self, since_iso: str) -> Iterator[tuple[str, str, bytes, float]]:
        """(key, story_id, signature, seen_at) rows for rebuilding the near-duplicate index;
        only signatures made with today's folding (see `stale_signatures`)."""
        for r in self.engine.query(
            "SELECT id, story_id, signature, fetched_at FROM articles "
            "WHERE signature IS NOT NULL AND fetched_at >= ? AND fold_version = ?",
            (since_iso, FOLD_VERSION),
        ):
            yield (
                str(r["id"]),
                str(r["story_id"]),
                bytes(r["signature"]),
                timestamp(r["fetched_at"]) or 0.0,
            )

    def stale_signatures(self, since_iso: str, limit: int = 1000) -> list[dict[str, Any]]:
        """Articles in the dedup window whose signature was made with another folding (or none
        recorded, before release 0.2): they must be signed again."""
        return self.engine.query(
            "SELECT id, text FROM articles WHERE fetched_at >= ? "
            "AND (fold_version IS NULL OR fold_version != ?) ORDER BY id LIMIT ?",
            (since_iso, FOLD_VERSION, limit),
        )

    def resign(self, article_id: int, content_hash: str, signature: bytes | None) -> None:
        self.update_article(article_id, {"content_hash": content_hash, "signature": signature})

    def articles_since(self, since_iso: str) -> Iterator[dict[str, Any]]:
        """Articles fetched since then, newest first, each with the topics it matched when stored
        (`stored_topics`, a JSON list): for trying topics on the archive (`match --archive`)."""
        rows = self.engine.query(
            "SELECT a.id, a.url, a.outlet, a.title, a.text, a.published, a.fetched_at "
            "FROM articles a WHERE a.fetched_at >= ? "
            "ORDER BY coalesce(a.published, a.fetched_at) DESC, a.id DESC",
            (since_iso,),
        )
        topics: dict[int, list[str]] = {}
        for r in self.engine.query(
            "SELECT m.article_id, m.topic FROM matches m JOIN articles a ON a.id = m.article_id "
            "WHERE a.fetched_at >= ? ORDER BY m.topic",
            (since_iso,),
        ):
            topics.setdefault(r["article_id"], []).append(r["topic"])
        for row in rows:
            yield {**row, "stored_topics": json.dumps(topics.get(row["id"], []))}

    # -- matches ----------------------------------------------------------------------------

    def matched_topics(self, article_id: int) -> set[str]:
        rows = self.engine.query("SELECT topic FROM matches WHERE article_id = ?", (article_id,))
        return {r["topic"] for r in rows}

    def replace_matches(self, article_id: int, matches: Iterable[TopicMatch]) -> None:
        self.engine.execute("DELETE FROM matches WHERE article_id = ?", (article_id,))
        now = utcnow()
        for m in matches:
            self.engine.execute(
                "INSERT INTO matches (article_id, topic, terms, location, snippet, matched_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    article_id,
                    m.name,
                    json.dumps(list(m.terms), ensure_ascii=False),
                    json.dumps(list(m.where)),
                    m.snippet,
                    now,
                ),
            )

    def match(self, article_id: int, topic: str) -> TopicMatch | None:
        row = self.engine.one(
            "SELECT topic, terms, location, snippet FROM matches "
            "WHERE article_id = ? AND topic = ?",
            (article_id, topic),
        )
        return _match_of(row) if row else None

    # -- search -----------------------------------------------------------------------------

    def index_search(self, article_id: int, title: str, text: str) -> None:
        """(Re)index a stored article: its title and body, outlet, language and time."""
        row = self.engine.one(
            "SELECT id, outlet, language, published, fetched_at FROM articles WHERE id = ?",
            (article_id,),
        )
        if row is None:
            raise ValueError(f"article {article_id} is not stored")
        search.index(
            self.engine,
            search.Indexed(
                article_id,
                title,
                text,
                row["outlet"],
                row["language"],
                row["published"],
                row["fetched_at"],
            ),
        )

    def search(self, query: SearchQuery) -> list[SearchHit]:
        """Articles matching the query and its filters, newest first (or by relevance), each with
        a snippet in the article's own spelling and script; see balkanwatch.storage.search."""
        return search.search(self.engine, query)

    def latest_stories(
        self, topics: Sequence[str] = (), since: datetime | None = None, limit: int = 20
    ) -> list[StoryLine]:
        """The newest stories that matched a topic (these topics, if given), one line each."""
        return search.latest_stories(self.engine, topics, since, limit)

    def rebuild_search(self) -> int:
        """Index every stored article again (after a bulk import); the number indexed."""
        with self.transaction():
            count = search.rebuild(self.engine)
        search.optimize(self.engine)
        return count

    def search_index_bytes(self) -> int:
        return search.index_bytes(self.engine)

    def import_articles(
        self, articles: Iterable[dict[str, Any]], matches: Iterable[dict[str, Any]] = ()
    ) -> None:
        """Bulk load of finished rows (an archive from elsewhere, a benchmark), in one
        transaction, without dedup, alerts or the search index: `rebuild_search` after."""
        articles = list(articles)
        if articles:
            cols = list(articles[0])
            self.engine.executemany(
                f"INSERT INTO articles ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                ([a[c] for c in cols] for a in articles),
            )
        self.engine.executemany(
            "INSERT INTO matches (article_id, topic, terms, location, snippet, matched_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                (
                    m["article_id"],
                    m["topic"],
                    m["terms"],
                    m["location"],
                    m.get("snippet"),
                    m["matched_at"],
                )
                for m in matches
            ),
        )

    # -- Atom feeds ---------------------------------------------------------------------------

    def topic_stories(self, topic: str, limit: int) -> list[dict[str, Any]]:
        """The first matched article of each story of `topic`, newest story first, with the
        match's terms (a JSON list) and snippet."""
        return search.topic_stories(self.engine, topic, limit)

    def story_urls(self, story_ids: Iterable[int]) -> list[dict[str, Any]]:
        """(story_id, id, url) of every article of these stories, in the order stored."""
        ids = list(dict.fromkeys(story_ids))
        rows: list[dict[str, Any]] = []
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            rows += self.engine.query(
                f"SELECT story_id, id, url FROM articles WHERE story_id IN "
                f"({','.join('?' * len(chunk))}) ORDER BY id",
                chunk,
            )
        return rows

    # -- HTTP validators (conditional requests) ---------------------------------------------

    def validators(self, url: str) -> dict[str, Any] | None:
        return self.engine.one("SELECT etag, last_modified FROM validators WHERE url = ?", (url,))

    def save_validators(self, url: str, etag: str | None, last_modified: str | None) -> None:
        self.engine.execute(
            "INSERT INTO validators (url, etag, last_modified, checked_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (url) DO UPDATE SET etag = excluded.etag, "
            "last_modified = excluded.last_modified, checked_at = excluded.checked_at",
            (url, etag, last_modified, utcnow()),
        )

    # -- crawl records and outlet health ----------------------------------------------------

    def record_crawl(self, row: dict[str, Any]) -> None:
        self.engine.execute(
            f"INSERT INTO crawls ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
            list(row.values()),
        )

    def recent_crawls(self, outlet: str, limit: int = 200) -> list[dict[str, Any]]:
        """The outlet's latest crawl records, newest first. In the order of the crawls_outlet
        index (outlet, started_at): ordered by id alone, every call sorted the outlet's whole
        history (8 ms after a year of 10-minute crawls of 50 outlets, and the daemon asks for
        each running outlet every half second; bench/bench_history.py)."""
        return self.engine.query(
            "SELECT * FROM crawls WHERE outlet = ? ORDER BY started_at DESC, id DESC LIMIT ?",
            (outlet, limit),
        )

    def crawl_recorded_since(self, outlet: str, started_at: str) -> bool:
        return (
            self.engine.one(
                "SELECT 1 AS x FROM crawls WHERE outlet = ? AND started_at >= ? LIMIT 1",
                (outlet, started_at),
            )
            is not None
        )

    def articles_by_hour(self, since_iso: str) -> list[dict[str, Any]]:
        """(outlet, hour, n): articles stored per outlet and UTC hour (`2026-11-30T10`) since
        then. Hours, not days: the caller counts days in its own time zone."""
        return self.engine.query(
            "SELECT outlet, substr(fetched_at, 1, 13) AS hour, count(*) AS n FROM articles "
            "WHERE fetched_at >= ? GROUP BY outlet, substr(fetched_at, 1, 13)",
            (since_iso,),
        )

    def outlet_state(self, outlet: str) -> str | None:
        row = self.engine.one("SELECT state FROM outlet_state WHERE outlet = ?", (outlet,))
        return row["state"] if row else None

    def set_outlet_state(self, outlet: str, state: str, since: str, reason: str) -> None:
        self.engine.execute(
            "INSERT INTO outlet_state (outlet, state, since, reason) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (outlet) DO UPDATE SET state = excluded.state, "
            "since = excluded.since, reason = excluded.reason",
            (outlet, state, since, reason),
        )

    # -- what was learned per outlet, and the health of its configured sources ---------------

    def outlet_templates(self, outlet: str) -> dict[str, Any] | None:
        """The outlet's learned examples (a list) and filter (JSON text), or None."""
        row = self.engine.one(
            "SELECT examples, filter, learned_at FROM outlet_templates WHERE outlet = ?", (outlet,)
        )
        return {**row, "examples": json.loads(row["examples"])} if row else None

    def save_outlet_templates(self, outlet: str, examples: list[str], filter_json: str) -> None:
        self.engine.execute(
            "INSERT INTO outlet_templates (outlet, examples, filter, learned_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (outlet) DO UPDATE SET examples = excluded.examples, "
            "filter = excluded.filter, learned_at = excluded.learned_at",
            (outlet, json.dumps(examples, ensure_ascii=False), filter_json, utcnow()),
        )

    def source_health(self, outlet: str | None = None) -> list[dict[str, Any]]:
        """Health rows of configured feeds and sitemaps, of one outlet or of all."""
        if outlet is None:
            return self.engine.query("SELECT * FROM source_health ORDER BY outlet, url")
        return self.engine.query(
            "SELECT * FROM source_health WHERE outlet = ? ORDER BY url", (outlet,)
        )

    def save_source_health(self, row: dict[str, Any]) -> None:
        cols = ("outlet", "url", "kind", "state", "silent_runs", "reason", "replaced_by", "since")
        values = [row.get(c) for c in cols]
        updates = ", ".join(f"{c} = excluded.{c}" for c in cols[2:])
        self.engine.execute(
            f"INSERT INTO source_health ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
            f"ON CONFLICT (outlet, url) DO UPDATE SET {updates}",
            values,
        )


def _with_fold_version(row: dict[str, Any]) -> dict[str, Any]:
    """A row that sets a signature records the folding it was made with."""
    return {**row, "fold_version": FOLD_VERSION} if "signature" in row else row


def _match_of(row: dict[str, Any]) -> TopicMatch:
    return TopicMatch(
        name=row["topic"],
        terms=list(json.loads(row["terms"] or "[]")),
        where=list(json.loads(row["location"] or "[]")),
        snippet=row["snippet"] or "",
    )
