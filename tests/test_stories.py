"""One story, one alert: duplicates and near-duplicates across URLs and outlets, through a real
crawl of three fixture outlets, and article updates through the ingest stage.

The texts are the hand-written fixtures of tests/data/dedup/ (see its README): a story's variants
(exact copy, new headline, wire copies with other page furniture, a paragraph added or cut) and
pairs that must stay separate (a formulaic headline on two days, a shared background paragraph).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from balkanwatch.analysis.dedup import StoryIndex
from balkanwatch.analysis.topics import TopicMatcher
from balkanwatch.core.config import load_config
from balkanwatch.core.document import Document
from balkanwatch.storage.store import Store
from pipelines.ingest import Ingester
from tests.data.dedup.fixtures import load_groups
from tests.support import (
    FixtureSite,
    SMTPSink,
    article_page,
    crawl,
    feed_outlets,
    rss,
    write_config,
)

DEDUP = Path(__file__).parent / "data" / "dedup"
GROUP = "01-kfor-patrols-north"
# (outlet index, variant): where each copy of the story is published
COPIES = [
    (0, "original"),
    (0, "headline"),  # the same outlet republishes it under a new headline and URL
    (1, "wire_a"),  # a wire copy with other page furniture at another outlet
    (1, "para_added"),
    (2, "wire_b"),
    (2, "para_cut"),
]
SEPARATE = [
    "01-formulaic-headline-nato-envoy",
    "03-shared-background-independence",
    "05-same-topic-ibar-bridge",
]


def split(text: str) -> tuple[str, list[str]]:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[0], lines[1:]


@pytest.fixture
def sites(make_site: Callable[[str], FixtureSite]) -> list[FixtureSite]:
    return [make_site(f"127.0.0.{6 + i}") for i in range(3)]


def test_copies_make_one_story_and_one_alert(
    tmp_path: Path, sites: list[FixtureSite], smtp: SMTPSink
) -> None:
    group = load_groups()[GROUP]
    items: list[list[dict[str, str]]] = [[], [], []]
    for n, (i, variant) in enumerate(COPIES):
        title, paras = split(group[variant])
        path = f"/2026/11/30/copy-{n}"
        sites[i].add(path, article_page(title, paras))
        items[i].append({"title": title, "link": sites[i].url(path)})
        if n == 0:  # the same URL again with tracking parameters and a fragment
            items[i].append({"title": title, "link": sites[i].url(path) + "?utm_medium=x#top"})
    separate_urls = []
    for k, name in enumerate(SEPARATE):
        for side in ("a", "b"):
            title, paras = split((DEDUP / "separate" / name / f"{side}.txt").read_text("utf-8"))
            path = f"/2026/11/2{k}/separate-{side}"
            sites[0].add(path, article_page(title, paras))
            items[0].append({"title": title, "link": sites[0].url(path)})
            separate_urls.append(sites[0].url(path))
    outlets = feed_outlets(sites, items)
    cfg = write_config(
        tmp_path / "cfg", outlets, subscribers=[{"name": "desk", "urls": [smtp.url()]}]
    )
    done = crawl(cfg)
    assert done.returncode == 0, done.stderr[-3000:]
    with sqlite3.connect(cfg / "bw.db") as conn:
        articles = conn.execute("SELECT url, story_id FROM articles").fetchall()
        alerts = conn.execute("SELECT story_id, status FROM alerts").fetchall()
    stories = {url: story for url, story in articles}
    assert len(articles) == len(COPIES) + 2 * len(SEPARATE)  # the tracking variant is no article
    copy_stories = {
        stories[sites[i].url(f"/2026/11/30/copy-{n}")] for n, (i, _) in enumerate(COPIES)
    }
    assert len(copy_stories) == 1
    separate_stories = {stories[u] for u in separate_urls}
    assert len(separate_stories) == len(separate_urls)
    assert not separate_stories & copy_stories
    # One alert per story, each sent once; the copies' alert names the other outlets.
    assert len(alerts) == 1 + len(separate_urls)
    assert {s for s, _ in alerts} == copy_stories | separate_stories
    assert len(smtp.messages) == len(alerts)
    titles = {split(group[variant])[0] for _, variant in COPIES}
    copy_mail = next(m for m in smtp.messages if any(t in m["subject"] for t in titles))
    body = copy_mail.get_body(("plain",)).get_content()
    assert "Also reported by" in body and "Outlet 1" in body and "Outlet 2" in body


def test_second_crawl_of_a_copy_elsewhere_sends_nothing(
    tmp_path: Path, sites: list[FixtureSite], smtp: SMTPSink
) -> None:
    group = load_groups()[GROUP]
    title, paras = split(group["original"])
    sites[0].add("/2026/11/30/first", article_page(title, paras))
    feed0 = sites[0].add(
        "/feed/",
        rss([{"title": title, "link": sites[0].url("/2026/11/30/first")}]),
        content_type="application/rss+xml",
    )
    feed1 = sites[1].add("/feed/", rss([]), content_type="application/rss+xml")
    cfg = write_config(
        tmp_path / "cfg",
        [
            {"name": "a", "homepage": sites[0].url("/"), "feeds": [feed0]},
            {"name": "b", "homepage": sites[1].url("/"), "feeds": [feed1]},
        ],
        subscribers=[{"name": "desk", "urls": [smtp.url()]}],
    )
    assert crawl(cfg).returncode == 0
    assert len(smtp.messages) == 1
    # A day later outlet b carries the wire copy: stored, same story, no second alert.
    title, paras = split(group["wire_c"])
    sites[1].add("/2026/12/01/copy", article_page(title, paras))
    sites[1].add(
        "/feed/",
        rss([{"title": title, "link": sites[1].url("/2026/12/01/copy")}]),
        content_type="application/rss+xml",
    )
    assert crawl(cfg).returncode == 0
    with sqlite3.connect(cfg / "bw.db") as conn:
        stories = conn.execute("SELECT outlet, story_id FROM articles ORDER BY id").fetchall()
    assert [o for o, _ in stories] == ["a", "b"] and stories[0][1] == stories[1][1]
    assert len(smtp.messages) == 1


def ingester(tmp_path: Path) -> Ingester:
    cfg = load_config(
        write_config(
            tmp_path / "cfg",
            [{"name": "a", "homepage": "https://a.example/"}],
            topics=[
                {"name": "kosovo-security", "keywords": ["Kosovo", "KFOR"]},
                {"name": "eu-mediation", "keywords": ["EULEX"]},
            ],
            subscribers=[{"name": "desk", "urls": ["json://127.0.0.1:9/"]}],
        ),
        env={},
    )
    return Ingester(Store(cfg.database), cfg, TopicMatcher(cfg.topics), StoryIndex())


def doc(text: str, url: str = "https://a.example/2026/11/30/x") -> Document:
    title, paras = split(text)
    body = "\n".join(paras)
    return Document.of(
        url=url,
        outlet="a",
        title=title,
        body=body,
        published=None,
        language="en",
    )


def test_updated_article_updates_its_row_and_alerts_only_for_a_new_topic(tmp_path: Path) -> None:
    ing = ingester(tmp_path)
    original = load_groups()[GROUP]["original"]
    first = ing.ingest(doc(original))
    assert (first.status, first.alerts_queued) == ("new", 1)
    assert ing.ingest(doc(original)).status == "unchanged"
    edited = ing.ingest(doc(original + "\nThe KFOR commander thanked the police for calm."))
    assert (edited.status, edited.alerts_queued) == ("updated", 0)  # same topic: no new alert
    assert edited.article_id == first.article_id and edited.story_id == first.story_id
    stored = ing.store.article(first.article_id)
    assert stored is not None and "thanked the police" in stored["text"]
    eulex = ing.ingest(doc(original + "\nEULEX judges will review the arrest."))
    assert (eulex.status, eulex.alerts_queued) == ("updated", 1)  # newly matches eu-mediation
    topics = [r["topic"] for r in ing.store.rows("SELECT topic FROM alerts ORDER BY id")]
    assert topics == ["kosovo-security", "eu-mediation"]


def sitemap(entries: list[tuple[str, str]]) -> str:
    urls = "".join(f"<url><loc>{loc}</loc><lastmod>{mod}</lastmod></url>" for loc, mod in entries)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
    )


def test_an_article_the_sitemap_reports_changed_is_fetched_again(
    tmp_path: Path, sites: list[FixtureSite]
) -> None:
    from datetime import UTC, datetime

    site = sites[0]
    title, paras = split(load_groups()[GROUP]["original"])
    url = site.add("/2026/11/30/story", article_page(title, paras))
    now = datetime.now(UTC).isoformat(timespec="seconds")
    site.add("/sitemap.xml", sitemap([(url, now)]), content_type="application/xml")
    cfg = write_config(
        tmp_path / "cfg",
        [{"name": "a", "homepage": site.url("/"), "sitemaps": [site.url("/sitemap.xml")]}],
        topics=[
            {"name": "kosovo-security", "keywords": ["Kosovo", "KFOR"]},
            {"name": "eu-mediation", "keywords": ["EULEX"]},
        ],
        subscribers=[{"name": "desk", "urls": ["json://127.0.0.1:9/"]}],  # never delivered
    )
    assert crawl(cfg).returncode == 0
    assert crawl(cfg).returncode == 0  # unchanged: not fetched again
    assert len(site.requests("/2026/")) == 1
    # An hour later the outlet edits the story and its sitemap says so.
    with sqlite3.connect(cfg / "bw.db") as conn:
        conn.execute("UPDATE articles SET fetched_at = datetime('now', '-1 hour')")
    site.add(url.removeprefix(site.base), article_page(title, [*paras, "EULEX will review it."]))
    site.add("/sitemap.xml", sitemap([(url, now)]), content_type="application/xml")
    assert crawl(cfg).returncode == 0
    assert len(site.requests("/2026/")) == 2
    with sqlite3.connect(cfg / "bw.db") as conn:
        rows = conn.execute("SELECT text, updated_at FROM articles").fetchall()
        topics = [t for (t,) in conn.execute("SELECT topic FROM alerts ORDER BY id")]
    assert len(rows) == 1 and "EULEX will review it." in rows[0][0] and rows[0][1]
    assert topics == ["kosovo-security", "eu-mediation"]
