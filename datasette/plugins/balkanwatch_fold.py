"""Datasette plugin for `datasette --plugins-dir datasette/plugins`: balkanwatch's newsroom pages
and the SQL functions behind the `search` canned query of metadata.yml.

The code lives in the package (`balkanwatch.app.webplugin`), which `balkanwatch web` registers
by itself; this file only lets a plain `datasette` command load the same plugin. Needs
balkanwatch installed in the same environment (`pip install -e '.[web]'`).

- `balkanwatch_fold(text)`: the folded text (Косово -> kosovo, Đurić -> djuric, EULEX -> euleks).
- `balkanwatch_fts(query)`: an FTS5 query that finds every word of `query`, the same rule as
  `balkanwatch search`.
"""

from balkanwatch.app.webplugin import fold, fts_query, prepare_connection, register_routes

__all__ = ["fold", "fts_query", "prepare_connection", "register_routes"]
