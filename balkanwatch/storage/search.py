"""Full-text search of the archive, on SQLite (FTS5) and PostgreSQL (tsvector), one semantics.

The index holds the folded words (balkanwatch.core.folding) of each article's title and body, so
a Latin query finds Cyrillic articles and the reverse, plus two tag words naming its outlet and
language. A query word is asked for as an OR of the forms the topic matcher gives it
(balkanwatch.analysis.query); candidates are then checked with the matcher's rules, which a
folded index cannot apply (NATO in capitals, a phrase's words adjacent).

Newest first on a large archive: each indexed article has an order key, its time (the earlier of
published and fetched, to the second) inverted in the high bits and the article in the low ones,
so ascending key order is newest first. On SQLite the key is the FTS5 rowid: the index returns
candidates already in order, a LIMIT stops it early, and --since/--until are rowid ranges. The
FTS5 table is contentless (only the index is stored); an edited article gets a new key and its old
one is tombstoned in `search_docs`, whose key -> article rows are the live entries. On
PostgreSQL, `articles_search` holds the key beside the tsvector, with a B-tree index on it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from balkanwatch.analysis.query import Query as ParsedQuery
from balkanwatch.analysis.query import QueryError, Snippet, snippet
from balkanwatch.analysis.topics import IndexWord
from balkanwatch.core.document import split_seed
from balkanwatch.core.folding import FOLD_VERSION, fold
from balkanwatch.core.times import now, parse_time, to_iso
from balkanwatch.storage.engine import Engine

MAX_LIMIT = 500
SORTS = ("newest", "relevance")
_LOW_BITS = 30  # article ids below 2**30 fit in the key's low bits
_LOW = (1 << _LOW_BITS) - 1
_TIME_MAX = (1 << 32) - 1  # seconds: until the year 2106
_BATCH_MARGIN = 8  # candidates read beyond the limit at first; doubled while checks reject them
_MAX_BATCH = 4096
_CHUNK = 500  # ids per IN (...)


@dataclass(frozen=True)
class SearchQuery:
    """A parsed query and its filters; `limit` is bounded (1..MAX_LIMIT)."""

    query: ParsedQuery
    outlets: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    sort: str = "newest"
    limit: int = 20

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise QueryError(f"limit must be between 1 and {MAX_LIMIT}")
        if self.sort not in SORTS:
            raise QueryError(f"sort must be one of {', '.join(SORTS)}")


@dataclass(frozen=True)
class SearchHit:
    article_id: int
    story_id: int
    url: str
    outlet: str
    title: str
    language: str | None
    published: str | None
    fetched_at: str
    when: str  # the article's time (earlier of published and fetched), ISO UTC
    snippet: Snippet
    terms: tuple[str, ...]  # the matched words as the article writes them
    score: float | None = None  # relevance (higher is better) when sorted by relevance

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.article_id,
            "story_id": self.story_id,
            "url": self.url,
            "outlet": self.outlet,
            "title": self.title,
            "language": self.language,
            "published": self.published,
            "fetched_at": self.fetched_at,
            "when": self.when,
            "snippet": self.snippet.marked(),
            "snippet_text": self.snippet.text,
            "marks": [list(m) for m in self.snippet.marks],
            "terms": list(self.terms),
            "score": self.score,
        }


# --- the order key -----------------------------------------------------------------------------


def when_seconds(published: str | None, fetched_at: str | None) -> int:
    """The article's time in POSIX seconds: the earlier of published and fetched (a publication
    time in the future, or unreadable, gives way to the fetch time)."""
    times = [t for t in (parse_time(published), parse_time(fetched_at)) if t is not None]
    return int(min(t.timestamp() for t in times)) if times else 0


def _time_part(seconds: float) -> int:
    return _TIME_MAX - min(max(int(math.floor(seconds)), 0), _TIME_MAX)


def order_key(seconds: int, article_id: int) -> int:
    if not 0 < article_id <= _LOW:
        raise ValueError(f"article id {article_id} does not fit the search index's order key")
    return (_time_part(seconds) << _LOW_BITS) | (_LOW - article_id)


def key_range(since: datetime | None, until: datetime | None) -> tuple[int, int]:
    """Keys of articles whose time is in [since, until)."""
    lo = 0 if until is None else (_time_part(math.ceil(until.timestamp()) - 1) << _LOW_BITS)
    hi = (
        (1 << 62)
        if since is None
        else ((_time_part(math.ceil(since.timestamp())) << _LOW_BITS) | _LOW)
    )
    return lo, hi


def tag(kind: str, value: str) -> str:
    """A word of the index that no text can contain: folded text has no x (x -> ks)."""
    return "x" + kind + value.encode("utf-8").hex()


def tags(outlet: str, language: str | None) -> str:
    lang = (language or "").split("-")[0].lower()
    return " ".join([tag("o", outlet)] + ([tag("l", lang)] if lang else []))


# --- writing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Indexed:
    """What the index needs of an article."""

    article_id: int
    title: str
    body: str
    outlet: str
    language: str | None
    published: str | None
    fetched_at: str

    @property
    def key(self) -> int:
        return order_key(when_seconds(self.published, self.fetched_at), self.article_id)


def index(engine: Engine, doc: Indexed) -> None:
    title, body, tagged = fold(doc.title), fold(doc.body), tags(doc.outlet, doc.language)
    if engine.dialect == "postgresql":
        engine.execute(_PG_UPSERT, (doc.article_id, doc.key, ts_vector(title, body, tagged)))
        return
    engine.execute(
        "UPDATE search_docs SET article_id = NULL WHERE article_id = ?", (doc.article_id,)
    )
    key = doc.key
    while engine.one("SELECT 1 AS x FROM search_docs WHERE key = ?", (key,)):
        key += 1  # re-indexed at the same time: the old key stays a tombstone
    engine.execute("INSERT INTO search_docs (key, article_id) VALUES (?, ?)", (key, doc.article_id))
    engine.execute(
        "INSERT INTO search_index (rowid, title, body, tags) VALUES (?, ?, ?, ?)",
        (key, title, body, tagged),
    )


_PG_UPSERT = (
    "INSERT INTO articles_search (article_id, sort_key, doc) VALUES (?, ?, ?::tsvector) "
    "ON CONFLICT (article_id) DO UPDATE SET sort_key = excluded.sort_key, doc = excluded.doc"
)
# A word as FTS5's unicode61 tokenizer reads folded text: a run of letters and digits; anything
# else (punctuation, "_", spaces) separates words. PostgreSQL gets the same words as a tsvector
# literal, never its own parser, which keeps koha.net, 1.5 and north-east whole and would disagree.
_WORD = re.compile(r"[^\W_]+")
_MAX_POSITION = 16383  # tsvector positions stop there; later words share the last position
_MAX_LEXEME = 2047  # bytes; longer "words" are not words anyone searches for
# A tsvector holds at most 1 MB: words of a text past that (no news article comes near) are left
# out of the PostgreSQL index rather than failing the article's ingest. Counted on the literal.
_MAX_BYTES = 1_000_000


def ts_vector(title: str, text: str, tagged: str = "") -> str:
    """A tsvector literal of folded title and text (title words weighted A), plus the tag
    words, weighted D."""
    positions: dict[str, dict[str, None]] = {}  # word -> its positions, in order, once each
    title_words = _WORD.findall(title)
    start = len(title_words) + 2
    size = 0
    numbered = [*enumerate(title_words, 1), *enumerate(_WORD.findall(text), start)]
    for n, word in numbered:
        length = len(word.encode())
        if length > _MAX_LEXEME:
            continue
        mark = f"{min(n, _MAX_POSITION)}" + ("A" if n < start else "")
        size += len(mark) + 1 + (0 if word in positions else length + 4)
        if size > _MAX_BYTES:
            break
        positions.setdefault(word, {})[mark] = None
    for word in tagged.split():
        positions.setdefault(word, {})[f"{_MAX_POSITION}D"] = None
    return " ".join(f"'{w}':{','.join(p)}" for w, p in positions.items())


def rebuild(engine: Engine, batch: int = 2000) -> int:
    """Index every article again from the articles table (a new index layout, a new folding) and
    record the folding it was built with; the number indexed."""
    count = index_all(engine, batch)
    engine.execute(
        "UPDATE store_state SET value = ? WHERE key = 'search_fold_version'", (str(FOLD_VERSION),)
    )
    return count


def index_all(engine: Engine, batch: int = 2000) -> int:
    """`rebuild` without recording the folding: for the schema steps before the store kept
    state (version 6 records the folding of every index built until then). In one pass of
    batches: bulk loads go through here too."""
    if engine.dialect == "postgresql":
        engine.execute("DELETE FROM articles_search")
    else:
        engine.execute("DELETE FROM search_docs")
        engine.execute("INSERT INTO search_index (search_index) VALUES ('delete-all')")
    count = 0
    for docs in _article_batches(engine, batch):
        rows = [(d.key, fold(d.title), fold(d.body), tags(d.outlet, d.language)) for d in docs]
        if engine.dialect == "postgresql":
            engine.executemany(
                _PG_UPSERT,
                [(d.article_id, r[0], ts_vector(*r[1:])) for d, r in zip(docs, rows, strict=True)],
            )
        else:
            engine.executemany(
                "INSERT INTO search_docs (key, article_id) VALUES (?, ?)",
                [(r[0], d.article_id) for d, r in zip(docs, rows, strict=True)],
            )
            engine.executemany(
                "INSERT INTO search_index (rowid, title, body, tags) VALUES (?, ?, ?, ?)", rows
            )
        count += len(docs)
    return count


def index_folding(engine: Engine) -> int | None:
    """The folding version the index was built with; None if the store does not say."""
    row = engine.one("SELECT value FROM store_state WHERE key = 'search_fold_version'")
    return int(row["value"]) if row and str(row["value"]).isdigit() else None


def _article_batches(engine: Engine, batch: int) -> Iterator[list[Indexed]]:
    last = 0
    while rows := engine.query(
        "SELECT id, title, text, outlet, language, published, fetched_at FROM articles "
        "WHERE id > ? ORDER BY id LIMIT ?",
        (last, batch),
    ):
        last = rows[-1]["id"]
        yield [indexed_of(r) for r in rows]


def indexed_of(row: dict[str, Any]) -> Indexed:
    """An article row (id, title, text, outlet, language, published, fetched_at) to index."""
    return Indexed(
        int(row["id"]),
        row["title"] or "",
        split_seed(row["text"])[1],
        row["outlet"],
        row["language"],
        row["published"],
        row["fetched_at"],
    )


def optimize(engine: Engine) -> None:
    """Merge the index into one segment after a bulk load (SQLite); PostgreSQL's GIN index and
    statistics are refreshed by VACUUM ANALYZE, which the caller may run outside a transaction."""
    if engine.dialect == "sqlite":
        engine.execute("INSERT INTO search_index (search_index) VALUES ('optimize')")


def index_bytes(engine: Engine) -> int:
    """The size of the search index on disk."""
    if engine.dialect == "postgresql":
        row = engine.one("SELECT pg_total_relation_size('articles_search') AS n")
    else:
        row = engine.one(
            "SELECT sum(pgsize) AS n FROM dbstat "
            "WHERE name LIKE 'search_index%' OR name LIKE 'search_docs%' "
            "OR name LIKE 'sqlite_autoindex_search_docs%'"
        )
    return int(row["n"] or 0) if row else 0


# --- the match expression ----------------------------------------------------------------------


def _fts_word(w: IndexWord) -> str:
    if w.prefix:
        return f'"{w.prefix}"*'
    return "(" + " OR ".join(f'"{f}"' for f in sorted(w.forms)) + ")"


def _ts_word(w: IndexWord) -> str:
    if w.prefix:
        return f"'{w.prefix}':*"
    return "(" + " | ".join(f"'{f}'" for f in sorted(w.forms)) + ")"


def match_expression(q: SearchQuery, dialect: str) -> str:
    """Every word of every included term (a phrase's adjacency is checked afterwards), the
    filters' tag words, and NOT the excluded terms the index can decide alone."""
    word, both, neg = (
        (_ts_word, " & ", " & !") if dialect == "postgresql" else (_fts_word, " AND ", " NOT ")
    )
    quote = "'{}'" if dialect == "postgresql" else '"{}"'
    alternatives = " | " if dialect == "postgresql" else " OR "
    parts = [word(w) for term in q.query.include for w in term.index_words]
    for kind, values in (("o", q.outlets), ("l", q.languages)):
        if values:
            tagged = [quote.format(tag(kind, v.lower() if kind == "l" else v)) for v in values]
            parts.append("(" + alternatives.join(tagged) + ")")
    expression = both.join(parts)
    for term in q.query.exclude:
        if term.index_decides:
            expression = f"({expression}){neg}{word(term.index_words[0])}"
    return expression


# --- reading -----------------------------------------------------------------------------------


def search(engine: Engine, q: SearchQuery) -> list[SearchHit]:
    """Matching articles, newest first (or by relevance), each checked with the matcher's rules
    and given a snippet; candidates are read in batches until `limit` hits are found."""
    expression = match_expression(q, engine.dialect)
    lo, hi = key_range(q.since, q.until)
    hits: list[SearchHit] = []
    size, offset = q.limit + _BATCH_MARGIN, 0
    while len(hits) < q.limit:
        batch = _candidates(engine, q, expression, lo, hi, offset, size)
        if not batch:
            break
        if q.sort == "newest":
            lo = batch[-1][0] + 1
        offset += len(batch)
        hits += _confirmed(engine, q, batch, q.limit - len(hits))
        if len(batch) < size:
            break
        size = min(size * 2, _MAX_BATCH)
    return hits


def _candidates(
    engine: Engine, q: SearchQuery, expression: str, lo: int, hi: int, offset: int, size: int
) -> list[tuple[int, int | None, float | None]]:
    """(key, article id or None for a tombstone, score) in result order."""
    if engine.dialect == "postgresql":
        if q.sort == "relevance":
            sql = (
                "SELECT sort_key AS key, article_id, "
                "ts_rank(doc, ?::tsquery) AS score FROM articles_search "
                "WHERE doc @@ ?::tsquery "
                "AND sort_key BETWEEN ? AND ? ORDER BY score DESC, sort_key LIMIT ? OFFSET ?"
            )
            params: Sequence[Any] = (expression, expression, lo, hi, size, offset)
        else:
            sql = (
                "SELECT sort_key AS key, article_id, NULL AS score FROM articles_search "
                "WHERE doc @@ ?::tsquery AND sort_key BETWEEN ? AND ? "
                "ORDER BY sort_key LIMIT ?"
            )
            params = (expression, lo, hi, size)
        rows = engine.query(sql, params)
        return [(r["key"], r["article_id"], _score(r["score"])) for r in rows]
    if q.sort == "relevance":  # bm25 is lower for better; title words count four times
        sql = (
            "SELECT rowid AS key, -bm25(search_index, 4.0, 1.0, 0.0) AS score FROM search_index "
            "WHERE search_index MATCH ? AND rowid BETWEEN ? AND ? "
            "ORDER BY bm25(search_index, 4.0, 1.0, 0.0), rowid LIMIT ? OFFSET ?"
        )
        params = (expression, lo, hi, size, offset)
    else:
        sql = (
            "SELECT rowid AS key, NULL AS score FROM search_index "
            "WHERE search_index MATCH ? AND rowid BETWEEN ? AND ? ORDER BY rowid LIMIT ?"
        )
        params = (expression, lo, hi, size)
    rows = engine.query(sql, params)
    live = _in(
        engine,
        "SELECT key, article_id FROM search_docs WHERE key IN ({})",
        [r["key"] for r in rows],
    )
    owner = {r["key"]: r["article_id"] for r in live}
    return [(r["key"], owner.get(r["key"]), _score(r["score"])) for r in rows]


def _score(value: Any) -> float | None:
    return None if value is None else round(float(value), 4)


def _in(engine: Engine, sql: str, ids: Sequence[Any], *params: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for i in range(0, len(ids), _CHUNK):
        chunk = list(ids[i : i + _CHUNK])
        rows += engine.query(sql.format(",".join("?" * len(chunk))), [*chunk, *params])
    return rows


def _confirmed(
    engine: Engine, q: SearchQuery, batch: list[tuple[int, int | None, float | None]], need: int
) -> list[SearchHit]:
    """Up to `need` hits of a batch of candidates, in the batch's order."""
    ids = [aid for _, aid, _ in batch if aid is not None]
    if q.topics:
        marks = ",".join("?" * len(q.topics))
        wanted = {
            r["article_id"]
            for r in _in(
                engine,
                "SELECT DISTINCT article_id FROM matches WHERE article_id IN ({}) "
                f"AND topic IN ({marks})",
                ids,
                *q.topics,
            )
        }
        ids = [i for i in ids if i in wanted]
    articles = {
        r["id"]: r
        for r in _in(
            engine,
            "SELECT id, url, outlet, title, text, published, fetched_at, language, story_id "
            "FROM articles WHERE id IN ({})",
            ids,
        )
    }
    hits = []
    for _, aid, score in batch:
        row = articles.get(aid) if aid is not None else None
        hit = _hit(row, q.query, score) if row else None
        if hit:
            hits.append(hit)
            if len(hits) == need:
                break
    return hits


def _hit(row: dict[str, Any], query: ParsedQuery, score: float | None) -> SearchHit | None:
    title = row["title"] or ""
    body = split_seed(row["text"])[1]
    found = query.check(title, body)
    if found is None:
        return None
    if found["body"] or body.strip():
        shown = snippet(body, found["body"])
    else:
        shown = snippet(title, found["title"])
    terms = dict.fromkeys(
        " ".join(text[a:b].split())
        for text, spans in ((title, found["title"]), (body, found["body"]))
        for a, b in spans
    )
    return SearchHit(
        article_id=int(row["id"]),
        story_id=int(row["story_id"] or row["id"]),
        url=row["url"],
        outlet=row["outlet"],
        title=title,
        language=row["language"],
        published=row["published"],
        fetched_at=row["fetched_at"],
        when=to_iso(
            datetime.fromtimestamp(when_seconds(row["published"], row["fetched_at"]), tz=UTC)
        ),
        snippet=shown,
        terms=tuple(terms),
        score=score,
    )


# --- stories -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoryLine:
    """A story that matched a topic: its first article, the topics any copy matched, and the
    outlets that carried it (the first article's outlet first)."""

    story_id: int
    title: str
    url: str
    outlet: str
    when: str  # the first article's time, ISO UTC
    topics: tuple[str, ...]
    outlets: tuple[str, ...]
    copies: int

    def as_json(self) -> dict[str, Any]:
        return {
            "story_id": self.story_id,
            "when": self.when,
            "topics": list(self.topics),
            "title": self.title,
            "outlet": self.outlet,
            "other_outlets": list(self.outlets[1:]),
            "copies": self.copies,
            "url": self.url,
        }


# A story's id is its first article's id. Times are compared as instants, not strings, so
# "+01:00" and "+00:00" sort correctly; a published time in the future gives way to the fetch time.
_WHEN = {
    # scalar min() is NULL if published is, hence the coalesce
    "sqlite": "coalesce(min(julianday(a.published), julianday(a.fetched_at)), "
    "julianday(a.fetched_at))",
    "postgresql": "least(a.published::timestamptz, a.fetched_at::timestamptz)",
}
_SINCE = {"sqlite": "julianday(?)", "postgresql": "?::timestamptz"}
# The newest stories are read first among the articles fetched in the last days (RECENT), driven
# by the articles table: a story first fetched before such a window is older than the window (its
# time, the earlier of published and fetched, is at most its fetch time), so once `limit` stories
# of the window are at or after its start, nothing older can displace them. Only when the recent
# window does not hold the answer (a rare topic, a quiet archive) is the whole archive read,
# driven by the matches. Reading the whole archive each time cost 0.15-0.9 s on a year of 100,000
# articles (bench/bench_history.py), after every crawl (Atom feeds) and on every front-page view.
RECENT = (timedelta(days=3), timedelta(days=12))


def _holds_answer(rows: list[dict[str, Any]], limit: int, start: datetime) -> bool:
    last = rows[-1] if len(rows) == limit else None
    return last is not None and when_seconds(last["published"], last["fetched_at"]) >= (
        start.timestamp()
    )


# A story's own article (the first of the story) when the story matched (any of its copies),
# newest first; the _RECENT form over the articles fetched since a moment.
_LATEST = """
WITH matched AS (
    SELECT DISTINCT coalesce(a.story_id, a.id) AS story_id
    FROM matches m JOIN articles a ON a.id = m.article_id
    WHERE 1 = 1 {topics}
)
SELECT a.id, a.url, a.outlet, a.title, a.published, a.fetched_at, {when} AS story_when
FROM matched s JOIN articles a ON a.id = s.story_id
WHERE 1 = 1 {since}
ORDER BY story_when DESC, a.id DESC
LIMIT ?
"""
_LATEST_RECENT = """
SELECT a.id, a.url, a.outlet, a.title, a.published, a.fetched_at, {when} AS story_when
FROM articles a
WHERE a.fetched_at >= ? AND coalesce(a.story_id, a.id) = a.id
AND (EXISTS (SELECT 1 FROM matches m WHERE m.article_id = a.id {topics})
     OR EXISTS (SELECT 1 FROM articles c JOIN matches m ON m.article_id = c.id
                WHERE c.story_id = a.id AND c.id != a.id {topics}))
{since}
ORDER BY story_when DESC, a.id DESC
LIMIT ?
"""


def latest_stories(
    engine: Engine, topics: Sequence[str], since: datetime | None, limit: int
) -> list[StoryLine]:
    dialect = engine.dialect
    where_topic = f"AND m.topic IN ({','.join('?' * len(topics))})" if topics else ""
    where_since, since_params = "", []
    if since is not None:
        where_since = f"AND {_WHEN[dialect]} >= {_SINCE[dialect]}"
        since_params = [to_iso(since)]
    parts = {"topics": where_topic, "when": _WHEN[dialect], "since": where_since}
    firsts: list[dict[str, Any]] = []
    end = now()
    for window in RECENT:
        start, final = end - window, False
        if since is not None and since >= start:  # a story since then was fetched since then
            start, final = since, True
        params = [to_iso(start), *topics, *topics, *since_params, limit]
        firsts = engine.query(_LATEST_RECENT.format(**parts), params)
        if final or _holds_answer(firsts, limit, start):
            break
    else:
        firsts = engine.query(_LATEST.format(**parts), [*topics, *since_params, limit])
    ids = [r["id"] for r in firsts]
    outlets: dict[int, list[str]] = {}
    copies: dict[int, int] = {}
    for r in _in(
        engine, "SELECT story_id, outlet FROM articles WHERE story_id IN ({}) ORDER BY id", ids
    ):
        copies[r["story_id"]] = copies.get(r["story_id"], 0) + 1
        seen = outlets.setdefault(r["story_id"], [])
        if r["outlet"] not in seen:
            seen.append(r["outlet"])
    matched: dict[int, list[str]] = {}
    for r in _in(
        engine,
        "SELECT a.story_id, m.topic FROM matches m JOIN articles a ON a.id = m.article_id "
        "WHERE a.story_id IN ({}) ORDER BY a.id, m.topic",
        ids,
    ):
        names = matched.setdefault(r["story_id"], [])
        if r["topic"] not in names:
            names.append(r["topic"])
    return [
        StoryLine(
            story_id=int(r["id"]),
            title=r["title"] or "",
            url=r["url"],
            outlet=r["outlet"],
            when=to_iso(
                datetime.fromtimestamp(when_seconds(r["published"], r["fetched_at"]), tz=UTC)
            ),
            topics=tuple(matched.get(r["id"], ())),
            outlets=tuple(outlets.get(r["id"], [r["outlet"]])),
            copies=copies.get(r["id"], 1),
        )
        for r in firsts
    ]


# The first matched article of each story of a topic, newest story first (Atom feeds, the web
# front page); the _RECENT form over the articles fetched since a moment, where a story is in
# only if no earlier article of it matched the topic (its first copy may be older).
_TOPIC_STORIES = """
WITH hits AS (
    SELECT a.id, a.url, a.outlet, a.title, a.text, a.published, a.fetched_at, a.updated_at,
           a.language, a.story_id, m.terms, m.snippet,
           row_number() OVER (PARTITION BY coalesce(a.story_id, a.id) ORDER BY a.id) AS copy
    FROM matches m JOIN articles a ON a.id = m.article_id
    WHERE m.topic = ?
)
SELECT * FROM hits a WHERE copy = 1
ORDER BY {when} DESC, id DESC
LIMIT ?
"""
_TOPIC_STORIES_RECENT = """
WITH hits AS (
    SELECT a.id, a.url, a.outlet, a.title, a.text, a.published, a.fetched_at, a.updated_at,
           a.language, a.story_id, m.terms, m.snippet,
           row_number() OVER (PARTITION BY coalesce(a.story_id, a.id) ORDER BY a.id) AS copy
    FROM articles a JOIN matches m ON m.article_id = a.id AND m.topic = ?
    WHERE a.fetched_at >= ?
)
SELECT * FROM hits a
WHERE copy = 1 AND NOT EXISTS (
    SELECT 1 FROM articles b
    WHERE b.story_id = a.story_id AND b.id < a.id
    AND EXISTS (SELECT 1 FROM matches n WHERE n.article_id = b.id AND n.topic = ?)
)
ORDER BY {when} DESC, id DESC
LIMIT ?
"""


def topic_stories(
    engine: Engine, topic: str, limit: int, at: datetime | None = None
) -> list[dict[str, Any]]:
    """The first matched article of each story of `topic`, newest story first, with the match's
    terms (a JSON list) and snippet: from the recent articles when they hold the answer (see
    RECENT), else from the whole archive."""
    end = at or now()
    when = _WHEN[engine.dialect]
    for window in RECENT:
        start = end - window
        rows = engine.query(
            _TOPIC_STORIES_RECENT.format(when=when), (topic, to_iso(start), topic, limit)
        )
        if _holds_answer(rows, limit, start):
            return rows
    return engine.query(_TOPIC_STORIES.format(when=when), (topic, limit))
