"""End to end: `scrapy crawl outlets` against a fixture outlet on 127.0.0.x, alerts to a real SMTP
server. The crawler, extraction, storage, matching and delivery all run for real."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from balkanwatch.analysis.query import parse_query
from balkanwatch.storage.search import SearchHit, SearchQuery
from balkanwatch.storage.store import Store
from tests.support import FixtureSite, SMTPSink, article_page, crawl, rss, write_config

KOSOVO_NATO = "/2026/11/30/kosovo-nato"

NOW = datetime.now(UTC)

STORIES = {
    "/2026/11/30/kosovo-nato": (
        "Kosovo asks NATO allies for faster membership talks",
        [
            "Kosovo's foreign minister asked NATO allies on Monday to speed up talks on the "
            "country's membership, saying the security situation in the north had worsened.",
            "KFOR troops increased patrols near the border crossings at Jarinje and Brnjak after "
            "a week of tension between local Serb communities and Kosovo police.",
            "Four NATO members still do not recognise Kosovo's independence, declared in 2008.",
        ],
    ),
    "/2026/11/30/kfor-patrols": (
        "Patrolli i KFOR-it në veri të Kosovës",
        [
            "Trupat e KFOR-it kanë shtuar patrullimet në veri të Kosovës pas tensioneve të javës "
            "së kaluar, njoftoi komanda e misionit në Prishtinë.",
            "Sipas zëdhënësit, patrullimet do të vazhdojnë deri në qetësimin e situatës dhe "
            "bashkëpunimi me Policinë e Kosovës është i mirë.",
        ],
    ),
    "/2026/11/30/skopje-weather": (
        "Snow closes mountain roads around Skopje",
        [
            "Heavy snow closed several mountain roads around Skopje on Monday, and the "
            "meteorological service warned of more snowfall in the coming days.",
            "Drivers were advised to carry chains and to avoid the Kičevo pass overnight.",
        ],
    ),
}


@pytest.fixture
def site(make_site: Callable[[str], FixtureSite]) -> FixtureSite:
    return make_site("127.0.0.2")


def publish(site: FixtureSite, stories: dict[str, tuple[str, list[str]]]) -> str:
    items = []
    for i, (path, (title, paras)) in enumerate(stories.items()):
        site.add(path, article_page(title, paras))
        when = format_datetime(NOW - timedelta(hours=i + 1))
        # Feed links carry tracking parameters, as real feeds do: they must not reach the store.
        items.append({"title": title, "link": site.url(path) + "?utm_source=rss", "pubDate": when})
    return site.add("/feed/", rss(items), content_type="application/rss+xml", etag='"feed-v1"')


def outlet(site: FixtureSite, feed: str) -> dict:
    return {
        "name": "fixture",
        "title": "Fixture News",
        "homepage": site.url("/"),
        "language": "en",
        "country": "XK",
        "feeds": [feed],
    }


def db_rows(where: Path | str, sql: str) -> list[tuple]:
    """Rows as tuples, from a configuration directory's SQLite file or a database (a SQLite
    path or a postgresql:// URL)."""
    if isinstance(where, Path):
        with sqlite3.connect(where / "bw.db") as conn:
            return conn.execute(sql).fetchall()
    store = Store(where)
    try:
        return [tuple(r.values()) for r in store.rows(sql)]
    finally:
        store.close()


def test_crawl_stores_matches_and_alerts_once(
    tmp_path: Path, site: FixtureSite, smtp: SMTPSink, database: str
) -> None:
    """End to end on each backend: BALKANWATCH_DB names the database (a SQLite file or a
    PostgreSQL database) for the real `scrapy crawl`."""
    feed = publish(site, STORIES)
    cfg = write_config(
        tmp_path / "cfg",
        [outlet(site, feed)],
        subscribers=[{"name": "desk", "urls": [smtp.url()]}],
    )
    done = crawl(cfg, env={"BALKANWATCH_DB": database})
    assert done.returncode == 0, done.stderr[-3000:]
    assert not (cfg / "bw.db").exists(), done.stderr[-5000:]  # the configured file is unused

    urls = sorted(u for (u,) in db_rows(database, "SELECT url FROM articles"))
    assert urls == sorted(site.url(p) for p in STORIES)  # canonical: tracking parameters gone
    matched = {
        t
        for (t,) in db_rows(
            database, "SELECT a.title FROM matches m JOIN articles a ON a.id = m.article_id"
        )
    }
    assert matched == {
        STORIES["/2026/11/30/kosovo-nato"][0],
        STORIES["/2026/11/30/kfor-patrols"][0],
    }

    # One e-mail per matching story, with its title and link; none for the weather story.
    assert len(smtp.messages) == 2
    bodies = {m["subject"]: m.get_body(("plain",)).get_content() for m in smtp.messages}
    for path in ("/2026/11/30/kosovo-nato", "/2026/11/30/kfor-patrols"):
        subject = next(s for s in bodies if STORIES[path][0] in s)
        assert site.url(path) in bodies[subject]
    assert not any("Snow" in s for s in bodies)
    assert db_rows(database, "SELECT status, count(*) FROM alerts GROUP BY status") == [("sent", 2)]
    assert "crawl-result fixture status=ok" in done.stderr
    store = Store(database)  # the crawl indexed what it stored, in any script
    assert {h.title for h in search(store, "kosov* nato")} == {STORIES[KOSOVO_NATO][0]}
    assert len(search(store, "kfor")) == 2
    store.close()

    # Second pass over the unchanged outlet: a 304 for the feed, no article fetched, no alert.
    before = len(site.requests("/2026/"))
    again = crawl(cfg, env={"BALKANWATCH_DB": database})
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(site.requests("/2026/")) == before
    feed_requests = [h for _, p, h in site.log if p == "/feed/"]
    assert feed_requests[-1].get("if-none-match") == '"feed-v1"'
    assert len(smtp.messages) == 2
    assert db_rows(database, "SELECT count(*) FROM articles") == [(3,)]
    crawls = db_rows(database, "SELECT status, new_articles, not_modified FROM crawls ORDER BY id")
    assert crawls == [("ok", 3, 0), ("ok", 0, 1)]


def test_undeliverable_alert_stays_pending_then_is_sent(tmp_path: Path, site: FixtureSite) -> None:
    feed = publish(site, {"/2026/11/30/kosovo-nato": STORIES["/2026/11/30/kosovo-nato"]})
    smtp = SMTPSink()
    url = smtp.url()
    smtp.stop()  # the mail server is down during the crawl
    cfg = write_config(
        tmp_path / "cfg", [outlet(site, feed)], subscribers=[{"name": "desk", "urls": [url]}]
    )
    done = crawl(cfg)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = db_rows(cfg, "SELECT status, attempts, last_error, next_attempt_at FROM alerts")
    assert len(rows) == 1
    status, attempts, error, retry_at = rows[0]
    assert (status, attempts) == ("pending", 1)
    assert error and retry_at
    assert db_rows(cfg, "SELECT count(*) FROM articles") == [(1,)]


def test_restricting_outlets_and_other_domains(tmp_path: Path, site: FixtureSite) -> None:
    other = FixtureSite("127.0.0.3")
    try:
        other.add("/2026/11/30/elsewhere", article_page("Kosovo elsewhere", ["Kosovo " * 40]))
        site.add("/2026/11/30/kosovo-nato", article_page(*STORIES["/2026/11/30/kosovo-nato"]))
        feed = site.add(
            "/feed/",
            rss(
                [
                    {"title": "here", "link": site.url("/2026/11/30/kosovo-nato")},
                    {"title": "there", "link": other.url("/2026/11/30/elsewhere")},
                ]
            ),
            content_type="application/rss+xml",
        )
        second = {**outlet(other, other.add("/feed/", rss([]))), "name": "second"}
        cfg = write_config(tmp_path / "cfg", [outlet(site, feed), second])
        done = crawl(cfg, "-a", "outlets=fixture")
        assert done.returncode == 0, done.stderr[-3000:]
        assert other.requests() == []  # neither the other outlet nor its domain was touched
        assert db_rows(cfg, "SELECT outlet, count(*) FROM articles GROUP BY outlet") == [
            ("fixture", 1)
        ]
    finally:
        other.close()


def test_seed_pages_stored_in_seed_form(tmp_path: Path, site: FixtureSite) -> None:
    """Every seed page, fetched through the feed, stored once with text close to its seed."""
    from tests.test_extract import F1_THRESHOLD, GOLDEN, token_f1

    items = []
    for g in GOLDEN:
        path = f"/2026/11/29/{g.stem}"
        site.add(path, g.page())
        items.append({"title": g.title, "link": site.url(path)})
    feed = site.add("/feed/", rss(items), content_type="application/rss+xml")
    cfg = write_config(tmp_path / "cfg", [outlet(site, feed)])
    done = crawl(cfg)
    assert done.returncode == 0, done.stderr[-3000:]
    stored = dict(db_rows(cfg, "SELECT url, text FROM articles"))
    assert len(stored) == len(GOLDEN)
    for g in GOLDEN:
        text = stored[site.url(f"/2026/11/29/{g.stem}")]
        assert token_f1(text, g.expected_text()) >= F1_THRESHOLD, g.stem
        assert text.splitlines()[0] == g.title


def test_a_page_without_article_text_is_recorded_and_costs_nothing_else(
    tmp_path: Path, site: FixtureSite
) -> None:
    good = "/2026/11/30/kosovo-nato"
    site.add(good, article_page(*STORIES[good]))
    site.add("/2026/11/30/garbage", bytes(range(256)) * 64, content_type="text/html")
    feed = site.add(
        "/feed/",
        rss(
            [
                {"title": "good", "link": site.url(good)},
                {"title": "garbage", "link": site.url("/2026/11/30/garbage")},
            ]
        ),
        content_type="application/rss+xml",
    )
    cfg = write_config(tmp_path / "cfg", [outlet(site, feed)])
    done = crawl(cfg)
    assert done.returncode == 0, done.stderr[-3000:]
    assert db_rows(cfg, "SELECT url FROM articles") == [(site.url(good),)]
    ((status, error),) = db_rows(cfg, "SELECT status, error FROM crawls")
    assert status == "ok" and "garbage: no article text" in error


def search(store: Store, query: str) -> list[SearchHit]:
    return store.search(SearchQuery(parse_query(query)))
