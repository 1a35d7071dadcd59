"""Datasette plugin: the SQL functions behind the `search` canned query of metadata.yml.

The `articles_search` index holds accent- and script-folded text (see
`balkanwatch.core.folding.fold`:
Косово -> kosovo, Đurić -> djuric, EULEX -> euleks), so a query has to be folded the same way
before it meets the index; SQLite cannot do that by itself. Loaded with
`datasette ... --plugins-dir datasette/plugins`; needs balkanwatch installed in the same
environment (`pip install '.[web]'`).

- `balkanwatch_fold(text)`: the folded text.
- `balkanwatch_fts(query)`: an FTS5 query that finds every word of `query` (each word quoted, so
  FTS syntax in user input is inert; a trailing `*` keeps its prefix meaning), the same rule as
  `balkanwatch search`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from balkanwatch.core.folding import fold as normalise
from balkanwatch.storage.search import fts_query as _fts_query

try:
    from datasette import hookimpl
except ImportError:  # the tests import this module without Datasette installed

    def hookimpl(f: Callable[..., Any]) -> Callable[..., Any]:
        return f


def fold(text: str | None) -> str | None:
    return None if text is None else normalise(text)


def fts_query(query: str | None) -> str:
    """An empty query gives `""`, which matches nothing instead of being an FTS syntax error."""
    return _fts_query(normalise(query or "")) or '""'


@hookimpl
def prepare_connection(conn: sqlite3.Connection) -> None:
    conn.create_function("balkanwatch_fold", 1, fold, deterministic=True)
    conn.create_function("balkanwatch_fts", 1, fts_query, deterministic=True)
