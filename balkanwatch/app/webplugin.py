"""The Datasette plugin of `balkanwatch web`: the newsroom pages, and the SQL functions that fold
text the way the archive's search index does.

Pages (templates `web/*.html`, overridable with settings.templates_dir), made for reading:
- `/`: the latest stories of each topic, and which outlets need a look;
- `/story/<id>`: how one story spread: every copy with its outlet, time and URL;
- `/outlets`: outlet health: last crawl, result and why, articles per day over the last week;
- `/search?q=`: the archive search, with the `balkanwatch search` semantics.
Datasette's own pages (tables, canned queries) stay under `/balkanwatch` for analysts.

The pages read through `Store` (all SQL stays in balkanwatch.storage), on one worker thread that
owns the store's connection, so the event loop never waits on SQLite. `balkanwatch web` registers
this module and names the configuration directory and database in the plugin configuration;
`datasette --plugins-dir datasette/plugins` loads it too (then the configuration comes from
BALKANWATCH_CONFIG, as for every command).

SQL functions:
- `balkanwatch_fold(text)`: the folded text (Косово -> kosovo, Đurić -> djuric);
- `balkanwatch_fts(query)`: the FTS5 expression of a `balkanwatch search` query;
- `balkanwatch_snippet(query, title, text)`: the matched sentence, or NULL for no match.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from datasette.utils.asgi import NotFound, Response

from balkanwatch.analysis.query import QueryError, parse_query, snippet
from balkanwatch.app import newsroom as pages
from balkanwatch.app.web import PLUGIN
from balkanwatch.core.config import Config, load_config
from balkanwatch.core.document import split_seed
from balkanwatch.core.folding import fold as normalise
from balkanwatch.core.times import now
from balkanwatch.delivery.templating import Templates, templates_for
from balkanwatch.storage.search import SearchQuery, match_expression
from balkanwatch.storage.store import Store
from datasette import hookimpl  # type: ignore[attr-defined]  # mypy sees ./datasette/ first


def fold(text: str | None) -> str | None:
    return None if text is None else normalise(text)


def fts_query(query: str | None) -> str:
    """The FTS5 expression of a `balkanwatch search` query (every word in all its forms);
    `""`, which matches nothing, for an empty or malformed query."""
    try:
        return match_expression(SearchQuery(parse_query(query or "")), "sqlite")
    except QueryError:
        return '""'


def search_snippet(query: str | None, title: str | None, text: str | None) -> str | None:
    """The article's sentence around the matched words, [marked], in its own script; NULL when
    the article does not match by the matcher's rules (NATO in capitals, a phrase's words
    adjacent), which the index cannot check."""
    try:
        parsed = parse_query(query or "")
    except QueryError:
        return None
    body = split_seed(text or "")[1]
    found = parsed.check(title or "", body)
    return None if found is None else snippet(body, found["body"]).marked()


@hookimpl
def prepare_connection(conn: sqlite3.Connection) -> None:
    conn.create_function("balkanwatch_fold", 1, fold, deterministic=True)
    conn.create_function("balkanwatch_fts", 1, fts_query, deterministic=True)
    conn.create_function("balkanwatch_snippet", 3, search_snippet, deterministic=True)


# -- the newsroom pages ---------------------------------------------------------------------


class Newsroom:
    """The configuration, templates and store of one Datasette instance."""

    def __init__(self, cfg: Config, database: Path, database_name: str) -> None:
        self.cfg, self.database, self.database_name = cfg, database, database_name
        self.templates: Templates = templates_for(cfg.settings.templates_dir)
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="balkanwatch-web")
        self._store: Store | None = None

    async def read(self, build: Callable[..., Any], *args: Any) -> Any:
        """`build(store, cfg, *args)` on the worker thread that owns the store."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._worker, self._build, build, args)

    def _build(self, build: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        if self._store is None:
            self._store = Store(self.database)
        return build(self._store, self.cfg, *args)

    def html(self, datasette: Any, name: str, page: Any, status: int = 200) -> Response:
        text = self.templates.render(
            f"web/{name}.html",
            page=page,
            path=datasette.urls.path,
            tables=datasette.urls.database(self.database_name),
        )
        return Response.html(text, status=status)


_ROOMS: WeakKeyDictionary[Any, Newsroom] = WeakKeyDictionary()


def newsroom(datasette: Any) -> Newsroom:
    room = _ROOMS.get(datasette)
    if room is None:
        settings = datasette.plugin_config(PLUGIN) or {}
        cfg = load_config(settings.get("config_dir"), need_secrets=False)
        name = settings.get("database") or _archive_name(datasette)
        room = Newsroom(cfg, Path(datasette.get_database(name).path), name)
        _ROOMS[datasette] = room
    return room


def _archive_name(datasette: Any) -> str:
    """Without plugin configuration (plain `datasette`): the first database on disk."""
    for name, db in datasette.databases.items():
        if db.path and not db.is_memory:
            return str(name)
    raise NotFound("no database file is open")


async def front(datasette: Any) -> Response:
    room = newsroom(datasette)
    return room.html(datasette, "front", await room.read(pages.front_page, now()))


async def story(datasette: Any, request: Any) -> Response:
    room = newsroom(datasette)
    page = await room.read(pages.story_page, int(request.url_vars["id"]))
    if page is None:
        raise NotFound("No such story")
    return room.html(datasette, "story", page)


async def outlets(datasette: Any) -> Response:
    room = newsroom(datasette)
    return room.html(datasette, "outlets", await room.read(pages.outlets_page, now()))


async def search(datasette: Any, request: Any) -> Response:
    room = newsroom(datasette)
    page = await room.read(pages.search_page, request.args.get("q", ""))
    return room.html(datasette, "search", page, status=400 if page.error else 200)


@hookimpl
def register_routes() -> list[tuple[str, Callable[..., Any]]]:
    return [
        (r"^/$", front),
        (r"^/story/(?P<id>\d{1,18})$", story),
        (r"^/outlets$", outlets),
        (r"^/search$", search),
    ]
