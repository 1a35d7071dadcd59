"""Full-text search over folded text, on SQLite (FTS5) and PostgreSQL (tsvector), one semantics.

The index holds `fold(title)` and `fold(text)` (balkanwatch.core.folding), so a Latin query finds
Cyrillic articles and the reverse; every word of a query must appear; `word*` is a prefix.
Results carry a snippet in the article's own spelling and script, taken from the stored text.
"""

from __future__ import annotations

import re
from typing import Any

from balkanwatch.analysis.topics import snippet_for_words
from balkanwatch.core.document import split_seed
from balkanwatch.core.folding import fold
from balkanwatch.storage.engine import Engine

# A word as FTS5's unicode61 tokenizer reads folded text: a run of letters and digits; anything
# else (punctuation, "_", spaces) separates words. PostgreSQL gets the same words (below), never
# its own parser, which keeps koha.net, 1.5 and north-east whole and would disagree.
_WORD = re.compile(r"[^\W_]+")
_MAX_POSITION = 16383  # tsvector positions stop there; later words share the last position
_MAX_LEXEME = 2047  # bytes; longer "words" are not words anyone searches for
# A tsvector holds at most 1 MB: words of a text past that (no news article comes near) are left
# out of the PostgreSQL index rather than failing the article's ingest. Counted on the literal,
# which is longer than the stored form.
_MAX_BYTES = 1_000_000


def words(folded: str) -> list[str]:
    return _WORD.findall(folded)


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


def ts_query(folded: str) -> str:
    """The same query as a PostgreSQL tsquery literal: words ANDed, `:*` prefixes. A word FTS5
    would split (nato's) is its parts in order, a phrase, as FTS5 reads it."""
    terms = []
    for word in folded.split():
        prefix = word.endswith("*")
        parts = words(word)
        if not parts:
            continue
        phrase = " <-> ".join(f"'{p}'" for p in parts)
        terms.append(f"({phrase}:*)" if prefix else f"({phrase})")
    return " & ".join(terms)


def ts_vector(title: str, text: str) -> str:
    """A tsvector literal of folded title and text: title words weighted A, the body after a gap
    so a phrase never spans the two (FTS5 keeps them in separate columns)."""
    positions: dict[str, dict[str, None]] = {}  # word -> its positions, in order, once each
    title_words = words(title)
    start = len(title_words) + 2
    size = 0
    for n, word in [*enumerate(title_words, 1), *enumerate(words(text), start)]:
        length = len(word.encode())
        if length > _MAX_LEXEME:
            continue
        mark = f"{min(n, _MAX_POSITION)}" + ("A" if n < start else "")
        size += len(mark) + 1 + (0 if word in positions else length + 4)
        if size > _MAX_BYTES:
            break
        positions.setdefault(word, {})[mark] = None
    return " ".join(f"'{w}':{','.join(p)}" for w, p in positions.items())


def index(engine: Engine, article_id: int, title: str, text: str) -> None:
    if engine.dialect == "postgresql":
        engine.execute(
            "INSERT INTO articles_search (article_id, doc) VALUES (?, ?::tsvector) "
            "ON CONFLICT (article_id) DO UPDATE SET doc = excluded.doc",
            (article_id, ts_vector(fold(title), fold(text))),
        )
        return
    engine.execute("DELETE FROM articles_search WHERE rowid = ?", (article_id,))
    engine.execute(
        "INSERT INTO articles_search (rowid, title, text) VALUES (?, ?, ?)",
        (article_id, fold(title), fold(text)),
    )


def search(engine: Engine, query: str, limit: int) -> list[dict[str, Any]]:
    folded = fold(query)
    if engine.dialect == "postgresql":
        expression = ts_query(folded)
        sql = (
            "SELECT a.id, a.url, a.outlet, a.title, a.published, a.fetched_at, a.text "
            "FROM articles_search s JOIN articles a ON a.id = s.article_id "
            "WHERE s.doc @@ ?::tsquery "
            "ORDER BY coalesce(a.published, a.fetched_at) DESC, a.id DESC LIMIT ?"
        )
    else:
        expression = fts_query(folded)
        sql = (
            "SELECT a.id, a.url, a.outlet, a.title, a.published, a.fetched_at, a.text "
            "FROM articles_search JOIN articles a ON a.id = articles_search.rowid "
            "WHERE articles_search MATCH ? "
            "ORDER BY coalesce(a.published, a.fetched_at) DESC, a.id DESC LIMIT ?"
        )
    if not expression:
        return []
    rows = engine.query(sql, (expression, limit))
    words = query.split()
    for row in rows:
        text = row.pop("text")
        body = split_seed(text)[1]  # a sentence of the body says more than the title
        row["snippet"] = (
            snippet_for_words(body, words)
            or snippet_for_words(text, words)
            or " ".join(body.split())[:200]
        )
    return rows


# The first matched article of each story, newest story first. Times are compared as instants,
# not strings, so "+01:00" and "+00:00" sort correctly; a published time in the future is clamped
# to the fetch time.
_TOPIC_STORIES = """
WITH hits AS (
    SELECT a.id, a.url, a.outlet, a.title, a.text, a.published, a.fetched_at, a.updated_at,
           a.language, a.story_id, m.terms, m.snippet,
           row_number() OVER (PARTITION BY coalesce(a.story_id, a.id) ORDER BY a.id) AS copy
    FROM matches m JOIN articles a ON a.id = m.article_id
    WHERE m.topic = ?
)
SELECT * FROM hits WHERE copy = 1
ORDER BY {when} DESC, id DESC
LIMIT ?
"""
_WHEN = {
    # scalar min() is NULL if published is, hence the coalesce
    "sqlite": "coalesce(min(julianday(published), julianday(fetched_at)), julianday(fetched_at))",
    "postgresql": "least(published::timestamptz, fetched_at::timestamptz)",
}


def topic_stories_sql(dialect: str) -> str:
    return _TOPIC_STORIES.format(when=_WHEN[dialect])
