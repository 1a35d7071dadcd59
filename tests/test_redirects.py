"""Redirects stay on the outlet: a feed, sitemap, homepage or article that redirects to another
site is not followed and the crawl record says so; another port of the outlet's host is another
site unless the outlet lists it in `domains`. One `scrapy crawl outlets` over loopback outlets."""

from __future__ import annotations

import re
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from scrapy import Request

from crawler.redirects import OffsiteRedirect, check_redirect
from tests.support import FixtureSite, article_page, crawl, rss, write_config

WHEN = format_datetime(datetime.now(UTC) - timedelta(hours=1), usegmt=True)
MOVED = r"redirected to another site, not followed: "


def story(site: FixtureSite, path: str) -> str:
    words = path.strip("/").replace("/", " ").replace("-", " ")
    paras = [
        f"Story {words}: the municipal council voted on Monday on the plan, after a public "
        "consultation that drew hundreds of comments from residents of every district.",
        f"Officials said that work on {words} would begin in spring and that the cost would be "
        "shared between the municipality and the national road agency.",
    ]
    return site.add(path, article_page(words.capitalize(), paras))


def feed(site: FixtureSite, urls: list[str], path: str = "/feed/") -> str:
    items = [{"title": u.rsplit("/", 1)[-1], "link": u, "pubDate": WHEN} for u in urls]
    return site.add(path, rss(items), content_type="application/rss+xml")


def moved(site: FixtureSite, path: str, to: str, status: int = 301) -> str:
    return site.add(path, "", status=status, headers={"Location": to})


@dataclass
class Run:
    cfg: Path
    done: subprocess.CompletedProcess[str]
    sites: dict[str, FixtureSite]

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.cfg / "bw.db") as conn:
            return conn.execute(query, params).fetchall()

    def record(self, outlet: str) -> tuple[str, str | None]:
        [row] = self.sql("SELECT status, error FROM crawls WHERE outlet = ?", outlet)
        return row

    def stored(self, outlet: str) -> set[str]:
        return {u for (u,) in self.sql("SELECT url FROM articles WHERE outlet = ?", outlet)}


NAMES = ["feedmoved", "sitemapmoved", "articlemoved", "homepagemoved", "otherport", "listedport"]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    s = {name: FixtureSite(f"127.0.0.{70 + i}") for i, name in enumerate(NAMES)}
    elsewhere = s["elsewhere"] = FixtureSite("127.0.0.79")
    # The other port of the outlets' own hosts: one unlisted, one listed in `domains`.
    port2 = s["port2"] = FixtureSite(s["otherport"].host)
    listed2 = s["listed2"] = FixtureSite(s["listedport"].host)
    for site in (elsewhere, port2, listed2):  # what a followed redirect would find
        feed(site, [story(site, "/a/moved-story")])
        site.add("/sitemap.xml", "<urlset/>", content_type="application/xml")
        site.add("/", "<html><body><a href='/a/moved-story'>Moved</a></body></html>")
    story(listed2, "/a/second-story")
    art, port, listed = s["articlemoved"], s["otherport"], s["listedport"]
    story(art, "/a/new-address")
    moved(s["homepagemoved"], "/", elsewhere.url("/"), 302)  # its homepage is its only source
    sources: dict[str, dict[str, Any]] = {
        "feedmoved": {"feeds": [moved(s["feedmoved"], "/feed/", elsewhere.url("/feed/"))]},
        "sitemapmoved": {
            "sitemaps": [moved(s["sitemapmoved"], "/sitemap.xml", elsewhere.url("/sitemap.xml"))]
        },
        "articlemoved": {
            "feeds": [
                feed(
                    art,
                    [
                        story(art, "/a/stays-here"),
                        moved(art, "/a/moved-away", elsewhere.url("/a/moved-story")),
                        # a redirect inside the outlet is followed as before
                        moved(art, "/a/old-address", art.url("/a/new-address"), 302),
                    ],
                )
            ]
        },
        "homepagemoved": {},
        "otherport": {
            "feeds": [
                feed(
                    port,
                    [
                        story(port, "/a/on-this-port"),
                        port2.url("/a/moved-story"),  # a link to the other port: not fetched
                        moved(port, "/a/to-other-port", port2.url("/a/moved-story")),
                    ],
                )
            ]
        },
        "listedport": {
            "domains": [f"{listed2.host}:{listed2.port}"],
            "feeds": [
                feed(
                    listed,
                    [
                        listed2.url("/a/moved-story"),
                        moved(listed, "/a/to-listed-port", listed2.url("/a/second-story")),
                    ],
                ),
                moved(listed, "/feed-2/", listed2.url("/feed/")),
            ],
        },
    }
    entries = [{"name": n, "homepage": s[n].url("/"), **sources[n]} for n in NAMES]
    cfg = write_config(tmp_path_factory.mktemp("cfg"), entries)
    done = crawl(cfg)
    assert done.returncode == 0, done.stderr[-3000:]
    yield Run(cfg, done, s)
    for site in s.values():
        site.close()


@pytest.mark.parametrize(
    ("outlet", "source"),
    [("feedmoved", "/feed/"), ("sitemapmoved", "/sitemap.xml"), ("homepagemoved", "/")],
)
def test_a_source_redirected_to_another_site_is_not_followed(
    run: Run, outlet: str, source: str
) -> None:
    status, error = run.record(outlet)
    target = run.sites["elsewhere"].url(source)
    assert status == "error"
    assert re.fullmatch(rf"http://127\.0\.0\.\d+:\d+{re.escape(source)}: {MOVED}{target}", error)
    assert re.search(rf"WARNING: Outlet {outlet}: .*{MOVED}{re.escape(target)}", run.done.stderr)
    assert run.sites["elsewhere"].requests() == []


def test_an_article_redirected_to_another_site_is_not_followed(run: Run) -> None:
    site = run.sites["articlemoved"]
    # the redirect inside the outlet was followed (and is stored under the address it gave)
    assert run.stored("articlemoved") == {site.url("/a/stays-here"), site.url("/a/new-address")}
    status, error = run.record("articlemoved")
    assert status == "ok"  # its other articles were stored
    expected = f"{site.url('/a/moved-away')}: {MOVED}{run.sites['elsewhere'].url('/a/moved-story')}"
    assert error == expected
    assert run.sites["elsewhere"].requests() == []


def test_another_port_of_the_outlets_host_is_another_site(run: Run) -> None:
    site, port2 = run.sites["otherport"], run.sites["port2"]
    assert site.host == port2.host and site.port != port2.port
    assert run.stored("otherport") == {site.url("/a/on-this-port")}
    status, error = run.record("otherport")
    assert status == "ok"
    assert error == f"{site.url('/a/to-other-port')}: {MOVED}{port2.url('/a/moved-story')}"
    assert port2.requests() == []


def test_a_port_listed_in_domains_is_the_outlets_own(run: Run) -> None:
    listed2 = run.sites["listed2"]
    assert run.record("listedport") == ("ok", None)
    assert run.stored("listedport") == {
        listed2.url("/a/moved-story"),  # linked from the feed, and from the redirected feed
        listed2.url("/a/second-story"),  # redirected to the listed port: followed
    }
    assert sorted(listed2.requests()) == ["/a/moved-story", "/a/second-story", "/feed/"]


# --- the rule itself ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "target", "followed"),
    [
        ("http://www.koha.net/feed/", "https://www.koha.net/feed/", True),  # http -> https
        ("https://www.koha.net/a", "https://koha.net/a", True),  # another host of the outlet
        ("https://feeds.service.example/koha", "https://feeds.service.example/k2", True),
        ("https://www.koha.net/a", "https://www.koha.net:8443/a", False),
        ("https://www.koha.net/a", "https://koha.net.example/a", False),
        ("https://feeds.service.example/koha", "https://other.service.example/k", False),
    ],
)
def test_check_redirect(start: str, target: str, followed: bool) -> None:
    request = Request(start, meta={"own_domains": ["www.koha.net", "koha.net"]})
    if followed:
        check_redirect(Request(target), request)
    else:
        with pytest.raises(OffsiteRedirect, match=re.escape(target)):
            check_redirect(Request(target), request)


def test_a_redirect_chain_is_judged_from_its_first_url() -> None:
    """A feed service may not launder a redirect: its origin is the first URL's."""
    first = "https://feeds.service.example/koha"
    request = Request(
        "https://www.koha.net/feed/", meta={"own_domains": ["koha.net"], "redirect_urls": [first]}
    )
    check_redirect(Request("https://feeds.service.example/k2"), request)
    with pytest.raises(OffsiteRedirect):
        check_redirect(Request("https://tracker.example/k"), request)
