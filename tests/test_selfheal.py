"""One URL filter per outlet, and self-healing when a configured feed dies or freezes.

The decisions are tested as pure functions; the behaviour end to end with real `scrapy crawl
outlets` runs against loopback outlets, operator alerts to a real SMTP server (aiosmtpd).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from balkanwatch.analysis.outletfilter import OutletFilter, merge_examples, teaching_urls
from balkanwatch.analysis.selfheal import SourceHealth, after_run, needs_probe
from balkanwatch.storage.store import Store
from tests.support import FixtureSite, SMTPSink, article_page, cli, crawl, rss, write_config

NOW = datetime.now(UTC)

# --- the pure decisions ------------------------------------------------------------------


def test_feed_items_that_teach_and_the_ones_that_pass() -> None:
    base = "https://vijesti.example"
    articles = [
        f"{base}/2026/12/01/vlada-usvojila-budzet-za-sljedecu-godinu/",
        f"{base}/2026/12/02/protest-ispred-skupstine-nakon-odluke/",
        f"{base}/2026/12/03/snijeg-zatvorio-puteve-u-planinskim-krajevima/",
    ]
    navigation = [
        f"{base}/tag/kosovo/",
        f"{base}/rubrika/politika/",
        f"{base}/video/",
        f"{base}/autor/ana-petrovic/",
        f"{base}/video/klipovi-dana/",
        f"{base}/sport/fudbal/",
    ]
    assert teaching_urls(articles + navigation) == articles
    learned = OutletFilter.build(None, merge_examples(articles + navigation, []))
    assert learned.learned  # three items: templates
    assert all(learned.admits(u)[0] for u in articles)
    assert all(learned.admits(u)[0] for u in [f"{base}/2026/12/04/nova-vijest-o-izborima/"])
    assert not any(learned.admits(u)[0] for u in navigation), [
        (u, learned.admits(u)) for u in navigation
    ]
    # Without templates yet, navigation and words-only paths are refused, the rest admitted:
    # a listing is mostly articles.
    cold = OutletFilter.build(None, [])
    assert cold.admits(f"{base}/video/klipovi-dana/")[0]
    assert cold.admits(f"{base}/z/16983")[0]
    for listing in ("/tag/kosovo/", "/galerija/", "/sport/fudbal/"):
        assert not cold.admits(base + listing)[0], listing
    # A configured article_pattern decides alone.
    pattern = OutletFilter.build(r"/20\d\d/", ["ignored"])
    assert pattern.admits(articles[0])[0] and not pattern.admits(f"{base}/a/123456.html")[0]


def test_a_series_under_new_ids_neither_teaches_nor_passes() -> None:
    base = "https://portal.example.ba"
    articles = [
        f"{base}/vijesti/bih/{slug}/{n}"
        for n, slug in enumerate(
            ["vlada-usvojila-novi-zakon", "protest-u-centru-grada", "snijeg-na-planinama-bosne"],
            240600001,
        )
    ]
    gallery = [f"{base}/galerija/foto-dana/{n}" for n in range(240514001, 240514004)]
    listing = articles + gallery
    assert teaching_urls(listing) == articles
    url_filter = OutletFilter.build(None, merge_examples(listing, []), listed=listing)
    assert [url_filter.admits(u)[0] for u in listing] == [True] * 3 + [False] * 3


def test_merge_keeps_the_newest_examples_first() -> None:
    old = [f"https://x.example/a/{n}.html" for n in range(100000, 100300)]
    new = ["https://x.example/2026/12/01/novi-oblik-adrese-clanka/"]
    merged = merge_examples(new, old)
    assert merged[0] == new[0] and len(merged) == 200 and merged[1] == old[0]


def src(**kw: object) -> SourceHealth:
    return SourceHealth("x", "https://x.example/feed/", "feed", **kw)  # type: ignore[arg-type]


def run(health: SourceHealth, **kw: object) -> SourceHealth:
    args: dict = {"status": 200, "failed": False, "new_items": 0, "homepage_new": 0, **kw}
    return after_run(health, now="2026-12-04T00:00:00+00:00", empty_threshold=3, **args)


@pytest.mark.parametrize("status", [404, 410])
def test_gone_is_dead_at_once(status: int) -> None:
    dead = run(src(), status=status, failed=True)
    assert dead.dead and dead.reason == f"HTTP {status}"


def test_server_errors_are_not_death_and_do_not_count_as_silence() -> None:
    assert run(src(silent_runs=2), status=503, failed=True) == src(silent_runs=2)


def test_frozen_only_when_the_homepage_shows_new_articles() -> None:
    assert run(src(), new_items=4) == src()
    assert run(src(silent_runs=1)).silent_runs == 2
    assert not run(src(silent_runs=1), homepage_new=5).dead  # silent 2 < 3: not yet
    quiet = run(src(silent_runs=2))  # the outlet is just quiet: the homepage has nothing new
    assert not quiet.dead and quiet.silent_runs == 3
    frozen = run(src(silent_runs=2), homepage_new=5)
    assert frozen.dead and "3 crawls" in (frozen.reason or "")
    assert run(src(silent_runs=7), new_items=1).silent_runs == 0


def test_probe_from_the_crawl_that_could_reach_the_threshold() -> None:
    assert [needs_probe(src(silent_runs=n), 3) for n in range(4)] == [False, False, True, True]
    assert not needs_probe(src(state="dead", silent_runs=5), 3)


def test_store_keeps_templates_and_source_health(database: str) -> None:
    store = Store(database)
    assert store.outlet_templates("x") is None
    store.save_outlet_templates("x", ["https://x.example/a/1.html"], '{"templates": []}')
    store.save_outlet_templates("x", ["https://x.example/a/2.html"], '{"templates": []}')
    assert store.outlet_templates("x")["examples"] == ["https://x.example/a/2.html"]  # type: ignore[index]
    row = {"outlet": "x", "url": "u", "kind": "feed", "state": "ok", "silent_runs": 1, "since": "t"}
    store.save_source_health(row)
    store.save_source_health({**row, "state": "dead", "reason": "HTTP 404", "replaced_by": "r"})
    [saved] = store.source_health()
    assert (saved["state"], saved["silent_runs"], saved["replaced_by"]) == ("dead", 1, "r")
    assert store.source_health("y") == []
    store.close()


# --- loopback outlets --------------------------------------------------------------------


@pytest.fixture
def site(make_site: Callable[[str], FixtureSite]) -> FixtureSite:
    return make_site("127.0.0.23")


HEADLINES = [
    "Vlada usvojila budžet za sljedeću godinu nakon duge rasprave",
    "Protest ispred skupštine nakon odluke o novim porezima",
    "Snijeg zatvorio puteve u planinskim krajevima cijele regije",
    "Ministar najavio reformu obrazovanja od naredne školske godine",
    "Izbori u martu: opozicija traži promjenu izbornog zakona",
    "Rekordan broj turista na primorju tokom praznika ove godine",
    "Cijene struje rastu od januara, najavila regulatorna agencija",
]


def article_path(n: int) -> str:
    words = HEADLINES[n].lower().replace(":", "").replace(",", "").split()[:6]
    slug = "-".join(w.encode("ascii", "ignore").decode() or "x" for w in words)
    return f"/2026/12/0{1 + n % 3}/{slug}-{n}/"


def serve_article(site: FixtureSite, n: int) -> str:
    paragraphs = [
        f"{HEADLINES[n]}. Ovo je tekst vijesti broj {n}, dovoljno dug da ga ekstrakcija "
        "prepozna kao članak, sa nekoliko rečenica o događaju i njegovim posljedicama.",
        "Drugi pasus donosi izjave učesnika i pozadinu priče, kao što to rade prave vijesti "
        "na portalima u regionu, uz datum i ime autora na vrhu stranice.",
    ]
    path = article_path(n)
    site.add(path, article_page(HEADLINES[n], paragraphs, lang="bs"))
    return site.url(path)


def feed_of(site: FixtureSite, ns: list[int], extra: list[str] = ()) -> str:  # type: ignore[assignment]
    items = [
        {
            "title": HEADLINES[n],
            "link": site.url(article_path(n)),
            "pubDate": format_datetime(NOW - timedelta(minutes=10 * (i + 1))),
        }
        for i, n in enumerate(ns)
    ]
    items += [{"title": "Rubrika", "link": site.url(p)} for p in extra]
    return rss(items)


def homepage(site: FixtureSite, ns: list[int], feed: str | None = None) -> str:
    announce = f'<link rel="alternate" type="application/rss+xml" href="{feed}">' if feed else ""
    nav = "".join(
        f'<li><a href="{p}">{w}</a></li>'
        for p, w in [("/politika/", "Politika"), ("/sport/", "Sport"), ("/video/", "Video")]
    )
    stories = "".join(
        f'<article><h2><a href="{article_path(n)}">{HEADLINES[n]}</a></h2></article>' for n in ns
    )
    return (
        f"<!DOCTYPE html><html lang='bs'><head><title>Vijesti</title>{announce}</head><body>"
        f"<nav><ul>{nav}</ul></nav><main>{stories}</main></body></html>"
    )


def heal_config(tmp_path: Path, site: FixtureSite, smtp: SMTPSink, **settings: object) -> Path:
    return write_config(
        tmp_path / "cfg",
        [
            {
                "name": "vijesti",
                "homepage": site.url("/"),
                "language": "bs",
                "feeds": [site.url("/feed/")],
            }
        ],
        subscribers=[{"name": "ops", "urls": [smtp.url()], "topics": []}],
        settings={"operators": ["ops"], **settings},
    )


def stored(cfg: Path) -> set[str]:
    store = Store(cfg / "bw.db")
    try:
        return {r["url"] for r in store.rows("SELECT url FROM articles")}
    finally:
        store.close()


def crawled(cfg: Path) -> None:
    done = crawl(cfg)
    assert done.returncode == 0, done.stderr[-4000:]


def operator_mails(smtp: SMTPSink) -> list[tuple[str, str]]:
    return [
        (str(m["subject"]), m.get_body(("plain",)).get_content())  # type: ignore[union-attr]
        for m in smtp.messages
        if "rerouted" in str(m["subject"])
    ]


def test_feed_answering_404_falls_back_and_alerts_once(
    tmp_path: Path, site: FixtureSite, smtp: SMTPSink
) -> None:
    urls = [serve_article(site, n) for n in range(6)]
    site.add("/feed/", feed_of(site, [0, 1]), content_type="application/rss+xml")
    site.add("/", homepage(site, [0, 1]))
    cfg = heal_config(tmp_path, site, smtp)
    crawled(cfg)
    assert stored(cfg) == set(urls[:2])
    assert "/" not in site.requests()  # a healthy feed costs no homepage request

    # The redesign: the old feed answers 404, the homepage announces a new one.
    site.routes["/feed/"].status = 404
    site.add("/rss/sve-vijesti.xml", feed_of(site, [2]), content_type="application/rss+xml")
    site.add("/", homepage(site, [0, 1, 2, 3], feed="/rss/sve-vijesti.xml"))
    site.add(
        "/robots.txt", f"Sitemap: {site.url('/sitemap-news.xml')}\n", content_type="text/plain"
    )
    site.add(
        "/sitemap-news.xml",
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{site.url(article_path(3))}</loc></url></urlset>",
        content_type="application/xml",
    )
    crawled(cfg)
    assert stored(cfg) == set(urls[:4])  # from the new feed, the sitemap, the homepage's links
    [(subject, body)] = operator_mails(smtp)
    assert "vijesti" in subject
    assert site.url("/feed/") in body and "HTTP 404" in body
    assert site.url("/rss/sve-vijesti.xml") in body and site.url("/sitemap-news.xml") in body

    before = len(site.requests("/feed/"))
    site.add("/rss/sve-vijesti.xml", feed_of(site, [4, 2]), content_type="application/rss+xml")
    site.add("/", homepage(site, [0, 1, 2, 3, 4, 5], feed="/rss/sve-vijesti.xml"))
    crawled(cfg)
    assert stored(cfg) == set(urls)
    assert len(site.requests("/feed/")) == before  # the dead feed is no longer polled
    assert len(operator_mails(smtp)) == 1
    # The homepage scan judged links by the templates learned from the feed: no menu entry.
    assert not {"/politika/", "/sport/", "/video/"} & set(site.requests())

    env = {**os.environ, "BALKANWATCH_CONFIG": str(cfg)}
    for command in ("status", "check-config"):
        shown = cli(command, env=env)
        assert shown.returncode == 0, shown.stderr
        assert f"feed {site.url('/feed/')} dead" in shown.stdout, shown.stdout
        assert "sve-vijesti.xml" in shown.stdout


def test_frozen_feed_is_replaced_only_when_the_homepage_shows_new_articles(
    tmp_path: Path, site: FixtureSite, smtp: SMTPSink
) -> None:
    urls = [serve_article(site, n) for n in range(7)]
    site.add("/feed/", feed_of(site, [0, 1]), content_type="application/rss+xml", etag='"v1"')
    site.add("/", homepage(site, [0, 1]))
    cfg = heal_config(tmp_path, site, smtp, empty_threshold=2)
    crawled(cfg)  # new articles
    crawled(cfg)  # silent once: no probe yet
    assert "/" not in site.requests()
    crawled(cfg)  # silent twice: the homepage is probed, but shows nothing new: just quiet
    assert site.requests().count("/") == 1
    assert stored(cfg) == set(urls[:2]) and not operator_mails(smtp)

    # The outlet moved on: new articles on the homepage and in a new feed, the old one frozen.
    site.add("/novosti.rss", feed_of(site, [3, 2]), content_type="application/rss+xml")
    site.add("/", homepage(site, [2, 3, 4, 0, 1], feed="/novosti.rss"))
    crawled(cfg)
    assert stored(cfg) == set(urls[:5])
    [(_, body)] = operator_mails(smtp)
    assert site.url("/feed/") in body and "listed nothing new" in body
    assert site.url("/novosti.rss") in body

    before = len(site.requests("/feed/"))
    site.add("/novosti.rss", feed_of(site, [5, 3, 2]), content_type="application/rss+xml")
    site.add("/", homepage(site, [6, 5, 2, 3, 4], feed="/novosti.rss"))
    crawled(cfg)
    assert stored(cfg) == set(urls)
    assert len(site.requests("/feed/")) == before
    assert len(operator_mails(smtp)) == 1


def test_tag_section_and_video_pages_listed_by_feed_and_sitemap_never_reach_extraction(
    tmp_path: Path, site: FixtureSite, smtp: SMTPSink
) -> None:
    urls = [serve_article(site, n) for n in range(6)]
    listed_pages = [
        "/tag/kosovo/",
        "/rubrika/politika/",
        "/video/",
        "/autor/ana-petrovic/",
        "/video/klipovi-dana/",
        "/sport/fudbal/",
        "/kategorija/vijesti/",
        "/galerija/",
    ]
    for path in listed_pages:  # served, so that fetching them would succeed
        site.add(path, homepage(site, [0, 1, 2]))
    site.add(
        "/feed/", feed_of(site, [0, 1, 2, 3], listed_pages[:6]), content_type="application/rss+xml"
    )
    entries = [site.url(article_path(n)) for n in (4, 5)] + [site.url(p) for p in listed_pages[6:]]
    site.add(
        "/sitemap.xml",
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        + "".join(f"<url><loc>{u}</loc></url>" for u in entries)
        + "</urlset>",
        content_type="application/xml",
    )
    cfg = write_config(
        tmp_path / "cfg",
        [
            {
                "name": "vijesti",
                "homepage": site.url("/"),
                "language": "bs",
                "feeds": [site.url("/feed/")],
                "sitemaps": [site.url("/sitemap.xml")],
            }
        ],
    )
    crawled(cfg)
    requested = set(site.requests())
    assert not requested & set(listed_pages), requested & set(listed_pages)
    assert stored(cfg) == set(urls)
    store = Store(cfg / "bw.db")
    saved = store.outlet_templates("vijesti")
    store.close()
    assert saved is not None and set(saved["examples"]) == set(urls)
    assert '"templates": [{' in saved["filter"]


def test_feed_items_with_short_word_paths_pass_while_nothing_is_learned() -> None:
    """An outlet's own feed is the authority while no template is learned: /lajme/cmimet is an
    article it lists, not a section; a directory (/sport/fudbal/) still is not."""
    from balkanwatch.analysis.outletfilter import OutletFilter

    listed = ["https://koha.example/lajme/cmimet", "https://koha.example/lajme/opozita"]
    url_filter = OutletFilter.build(None, [], listed=listed)
    assert all(url_filter.admits(url)[0] for url in listed)
    assert not url_filter.admits("https://koha.example/sport/fudbal/")[0]
