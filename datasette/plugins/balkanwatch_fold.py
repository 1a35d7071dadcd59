"""Datasette plugin: the SQL functions behind the `search` canned query of metadata.yml.

The search index (`search_index`, see balkanwatch.storage.search) holds accent- and
script-folded words (Косово -> kosovo, Đurić -> djuric, EULEX -> euleks), so a query has to be
folded and expanded the way `balkanwatch search` does it before it meets the index; SQLite cannot
do that by itself. Loaded with `datasette ... --plugins-dir datasette/plugins`; needs balkanwatch
installed in the same environment (`pip install '.[web]'`).

- `balkanwatch_fold(text)`: the folded text.
- `balkanwatch_fts(query)`: the FTS5 expression of a query (every word in all the forms the topic
  matcher gives it, `word*` a prefix, `-word` excluded); `""`, which matches nothing, for an
  empty or malformed query.
- `balkanwatch_snippet(query, title, text)`: the sentence of the article around the matched
  words, in its own script, the words in [brackets]; NULL when the article does not match by the
  matcher's rules (NATO in capitals, a phrase's words adjacent), which the index cannot check.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from balkanwatch.analysis.query import QueryError, parse_query, snippet
from balkanwatch.core.document import split_seed
from balkanwatch.core.folding import fold as normalise
from balkanwatch.storage.search import SearchQuery, match_expression

try:
    from datasette import hookimpl
except ImportError:  # the tests import this module without Datasette installed

    def hookimpl(f: Callable[..., Any]) -> Callable[..., Any]:
        return f


def fold(text: str | None) -> str | None:
    return None if text is None else normalise(text)


def fts_query(query: str | None) -> str:
    try:
        return match_expression(SearchQuery(parse_query(query or "")), "sqlite")
    except QueryError:
        return '""'


def search_snippet(query: str | None, title: str | None, text: str | None) -> str | None:
    try:
        parsed = parse_query(query or "")
    except QueryError:
        return None
    body = split_seed(text or "")[1]
    found = parsed.check(title or "", body)
    if found is None:
        return None
    return snippet(body, found["body"]).marked()


@hookimpl
def prepare_connection(conn: sqlite3.Connection) -> None:
    conn.create_function("balkanwatch_fold", 1, fold, deterministic=True)
    conn.create_function("balkanwatch_fts", 1, fts_query, deterministic=True)
    conn.create_function("balkanwatch_snippet", 3, search_snippet, deterministic=True)
