"""`balkanwatch web`: the archive in the browser, Datasette with the newsroom pages.

The archive is added to Datasette under the name `balkanwatch` whatever its file is called, so
the metadata (datasette/metadata.yml: table descriptions, canned queries) always applies: with
`datasette FILE` the name would be the file's, and the canned queries would vanish for any file
not called balkanwatch.db. The plugin (`webplugin`) is registered from the package, and told the
configuration directory, so the pages use the configured time zone, topics, outlets and
templates.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

import yaml

from balkanwatch.core.config import Config, ConfigError, load_config
from balkanwatch.storage.engine import is_postgres_url

PLUGIN = "balkanwatch"  # the plugin configuration's key in Datasette's metadata
DATABASE = "balkanwatch"  # the archive's name in Datasette, whatever its file is called
HOST = "127.0.0.1"
PORT = 8001
# The source tree's datasette/ directory: metadata for Datasette's own pages.
METADATA = Path(__file__).resolve().parents[2] / "datasette" / "metadata.yml"


def metadata(cfg: Config, path: Path = METADATA) -> dict[str, Any]:
    """Datasette metadata: the project's file (if this is a source tree), and the plugin's
    configuration."""
    data: dict[str, Any] = {}
    if path.is_file():
        data = yaml.safe_load(path.read_text("utf-8")) or {}
    plugins = data.setdefault("plugins", {})
    plugins[PLUGIN] = {
        "config_dir": str(cfg.directory.resolve()),
        "database": DATABASE,
    }
    return data


def build(cfg: Config) -> Any:
    """A Datasette instance over the configured archive, with the project's pages."""
    # Imported here: only this command needs Datasette. (mypy, run from the source tree, finds
    # the datasette/ directory there first, hence the ignore.)
    from datasette.app import Datasette
    from datasette.database import Database

    from balkanwatch.app import webplugin
    from datasette.plugins import pm  # type: ignore[attr-defined]

    if is_postgres_url(cfg.database):
        raise ConfigError("balkanwatch web shows SQLite archives only (Datasette reads SQLite)")
    path = Path(cfg.database)
    if not path.is_file():
        raise ConfigError(
            f"{cfg.database}: no database yet (the daemon or `scrapy crawl outlets` creates it)"
        )
    if not pm.is_registered(webplugin):
        pm.register(webplugin, name="balkanwatch.app.webplugin")
    ds = Datasette(
        [],
        metadata=metadata(cfg),
        settings={"default_page_size": 50},
    )
    ds.remove_database("_memory")  # Datasette opens one when given no files
    db = Database(ds, path=str(path.resolve()), is_mutable=True)
    ds.add_database(db, name=DATABASE)
    return ds


def cmd_web(args: argparse.Namespace, out: TextIO) -> int:
    import uvicorn

    cfg = load_config(need_secrets=False)
    ds = build(cfg)
    print(f"balkanwatch web: http://{args.host}:{args.port}/ ({cfg.database})", file=out)
    out.flush()
    uvicorn.run(ds.app(), host=args.host, port=args.port, log_level="warning")
    return 0


def add_parser(sub: Any) -> None:
    web = sub.add_parser("web", help="the archive in the browser (Datasette), newsroom pages")
    web.add_argument("--host", default=HOST, help=f"address to listen on (default {HOST})")
    web.add_argument("--port", type=int, default=PORT, help=f"port (default {PORT})")
