"""A broken outlet never stops the others: one crawl, a healthy outlet, a broken outlet per fault.

Every fault gets its own outlet on its own 127.0.0.x address (or an unresolvable host name) in the
same `scrapy crawl outlets` subprocess; each test then checks, for its fault, that the healthy
outlet's articles were all stored and that the broken outlet's `crawls` row says error and why.
"""

from __future__ import annotations

import re
import socket
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support import FixtureSite, article_page, crawl, rss, write_config

NOW = datetime.now(UTC)
TIMEOUT_S = 2
MAXSIZE = 100_000


def fresh_feed(site: FixtureSite, paths: list[str]) -> str:
    when = format_datetime(NOW - timedelta(hours=1), usegmt=True)
    items = [{"title": p, "link": site.url(p), "pubDate": when} for p in paths]
    return rss(items)


def serve_articles(site: FixtureSite, slugs: list[str], **route: Any) -> list[str]:
    paths = [f"/2026/12/01/{slug}" for slug in slugs]
    for i, path in enumerate(paths):
        paras = [
            f"Story {slug_words(path)}: the municipal council voted on Monday on the plan, after "
            "a public consultation that drew hundreds of comments from residents.",
            f"Officials said that work on item {i} would begin in spring and that the cost would "
            "be shared between the municipality and the national road agency.",
        ]
        site.add(path, article_page(slug_words(path).capitalize(), paras), **route)
    return paths


def slug_words(path: str) -> str:
    return path.rsplit("/", 1)[-1].replace("-", " ")


def closed_port(host: str) -> int:
    """A port on `host` that nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


# --- the faults ------------------------------------------------------------------------------


def dns_failure(site: FixtureSite) -> dict[str, Any]:
    return {
        "homepage": "http://nonexistent.invalid/",
        "feeds": ["http://nonexistent.invalid/feed/"],
    }


def connection_refused(site: FixtureSite) -> dict[str, Any]:
    port = closed_port(site.host)
    return {"feeds": [f"http://{site.host}:{port}/feed/"]}


def timeout(site: FixtureSite) -> dict[str, Any]:
    return {"feeds": [site.add("/feed/", fresh_feed(site, []), delay=TIMEOUT_S + 1.5)]}


def server_error(site: FixtureSite) -> dict[str, Any]:
    return {"feeds": [site.add("/feed/", "<h1>503 Service Unavailable</h1>", status=503)]}


def malformed_feed(site: FixtureSite) -> dict[str, Any]:
    truncated = '<?xml version="1.0"?><rss version="2.0"><channel><title>Cut off</title><item><ti'
    return {
        "feeds": [
            site.add("/feed/", truncated, content_type="application/rss+xml", etag='"broken-1"')
        ]
    }


def redirect_loop(site: FixtureSite) -> dict[str, Any]:
    site.add("/feed/", "", status=302, headers={"Location": site.url("/rss/")})
    site.add("/rss/", "", status=302, headers={"Location": site.url("/feed/")})
    return {"feeds": [site.url("/feed/")]}


def oversized_page(site: FixtureSite) -> dict[str, Any]:
    # A homepage-discovered outlet whose homepage is far beyond DOWNLOAD_MAXSIZE.
    filler = "<p>" + "Lorem ipsum dolor sit amet. " * 50 + "</p>\n"
    site.add(
        "/",
        "<html><body>" + filler * (3 * MAXSIZE // len(filler)) + "</body></html>",
        etag='"huge-1"',
    )
    return {}


def articles_fail(site: FixtureSite) -> dict[str, Any]:
    """The feed is fine, but every article answers 500: nothing can be stored."""
    paths = serve_articles(site, ["prvi-clanak-pada", "drugi-clanak-pada"], status=500)
    return {"feeds": [site.add("/feed/", fresh_feed(site, paths), etag='"fails-1"')]}


@dataclass(frozen=True)
class Fault:
    name: str
    build: Callable[[FixtureSite], dict[str, Any]]
    reason: str  # regex the recorded error must match


FAULTS = [
    Fault("dns", dns_failure, r"nonexistent\.invalid/feed/: .*(DNS|resolve).*nonexistent\.invalid"),
    Fault("refused", connection_refused, r"/feed/: connection refused"),
    Fault("timeout", timeout, rf"/feed/: timed out after {TIMEOUT_S}(\.0)? s"),
    Fault("http503", server_error, r"/feed/: HTTP 503"),
    Fault("malformed", malformed_feed, r"/feed/: malformed feed: not a feed"),
    Fault("redirectloop", redirect_loop, r"/feed/: too many redirects"),
    Fault("oversized", oversized_page, rf"/: larger than DOWNLOAD_MAXSIZE \({MAXSIZE} bytes\)"),
    Fault("articles500", articles_fail, r"/2026/12/01/prvi-clanak-pada: HTTP 500"),
]

HEALTHY = ["kfor-pojacava-patrole", "skupstina-usvojila-budzet", "novi-most-preko-drine"]


@dataclass
class Run:
    cfg: Path
    done: subprocess.CompletedProcess[str]
    healthy: FixtureSite
    sites: dict[str, FixtureSite]

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.cfg / "bw.db") as conn:
            return conn.execute(query, params).fetchall()


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    healthy = FixtureSite("127.0.0.40")
    paths = serve_articles(healthy, HEALTHY)
    outlets = [
        {
            "name": "healthy",
            "homepage": healthy.url("/"),
            "feeds": [healthy.add("/feed/", fresh_feed(healthy, paths), etag='"ok-1"')],
        }
    ]
    sites = {}
    for i, fault in enumerate(FAULTS):
        site = sites[fault.name] = FixtureSite(f"127.0.0.{41 + i}")
        outlets.append({"name": fault.name, "homepage": site.url("/"), **fault.build(site)})
    cfg = write_config(tmp_path_factory.mktemp("cfg"), outlets)
    limits = [f"DOWNLOAD_TIMEOUT={TIMEOUT_S}", f"DOWNLOAD_MAXSIZE={MAXSIZE}", "DNS_TIMEOUT=5"]
    done = crawl(cfg, *[arg for limit in limits for arg in ("-s", limit)])
    assert done.returncode == 0, done.stderr[-3000:]
    yield Run(cfg, done, healthy, sites)
    for s in [healthy, *sites.values()]:
        s.close()


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.name)
def test_broken_outlet_is_recorded_and_never_stops_the_others(run: Run, fault: Fault) -> None:
    stored = {u for (u,) in run.sql("SELECT url FROM articles WHERE outlet = 'healthy'")}
    assert stored == {run.healthy.url(f"/2026/12/01/{slug}") for slug in HEALTHY}
    assert run.sql("SELECT status, error FROM crawls WHERE outlet = 'healthy'") == [("ok", None)]

    [(status, error, started, finished)] = run.sql(
        "SELECT status, error, started_at, finished_at FROM crawls WHERE outlet = ?", fault.name
    )
    assert status == "error"
    assert re.search(fault.reason, error), error
    assert started <= finished
    assert f"crawl-result {fault.name} status=error" in run.done.stderr
    assert re.search(rf"WARNING: Outlet {fault.name}: .*{fault.reason}", run.done.stderr)


@pytest.mark.parametrize("name", ["malformed", "articles500"])
def test_a_broken_source_keeps_no_validators(run: Run, name: str) -> None:
    """Its server sent an ETag, but a 304 next time would hide that it is broken (or, for a
    feed whose articles failed, keep them from being retried). The healthy feed's are kept."""
    assert run.sql("SELECT url FROM validators WHERE url LIKE ?", f"{run.sites[name].base}%") == []
    assert run.sql("SELECT etag FROM validators WHERE url = ?", run.healthy.url("/feed/")) == [
        ('"ok-1"',)
    ]


def test_errors_are_short_and_name_no_traceback(run: Run) -> None:
    for name, error in run.sql("SELECT outlet, error FROM crawls WHERE status = 'error'"):
        assert "Traceback" not in error and len(error) < 400, (name, error)
