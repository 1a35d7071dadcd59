"""`balkanwatch web`: the newsroom pages over an archive built through the real store and ingester.

In-process through Datasette's test client for the pages' content and the routing (any database
file name, canned queries, tables for analysts); then the command itself, started as a user
starts it, in a real browser: headless Chromium from the Debian packages (`make test` installs
them), driven by Playwright, which is never allowed to download a browser of its own. The browser
run saves a screenshot of the front page (tests/artifacts/web-front-page.png).
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from balkanwatch.analysis.dedup import StoryIndex
from balkanwatch.analysis.query import parse_query
from balkanwatch.analysis.topics import TopicMatcher
from balkanwatch.app import web
from balkanwatch.core.config import Config, ConfigError, load_config
from balkanwatch.core.document import Document
from balkanwatch.core.times import iso
from balkanwatch.storage.search import SearchQuery
from balkanwatch.storage.store import Store
from pipelines.ingest import Ingester
from tests.support import ROOT, free_port, write_config

BELGRADE = ZoneInfo("Europe/Belgrade")
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "tests" / "artifacts"
NOW = datetime.now(UTC)  # set again when the archive is built

OUTLETS = [
    {"name": "rts", "title": "RTS", "homepage": "https://www.rts.rs/", "language": "sr"},
    {"name": "n1", "title": "N1 Srbija", "homepage": "https://n1info.rs/", "language": "sr"},
    {"name": "koha", "title": "Koha Ditore", "homepage": "https://www.koha.net/", "language": "sq"},
    {"name": "bi", "title": "Balkan Insight", "homepage": "https://balkaninsight.com/"},
]
TOPICS = [
    {"name": "kosovo-security", "title": "Kosovo, NATO and KFOR", "keywords": ["Kosovo", "KFOR"]},
    {"name": "energy", "title": "Energy prices", "keywords": ["struja", "energija"]},
    {"name": "mining", "title": "Mining", "keywords": ["rudnik"]},
]
PATROLS = (  # 25+ words: the same story when another outlet runs it
    "Trupat e KFOR-it kanë shtuar patrullimet në veri të Kosovës pas tensioneve të javës së "
    "kaluar. Sipas zëdhënësit, patrullimet do të vazhdojnë deri në qetësimin e situatës në terren."
)
# (outlet, path, title, body, published minutes ago)
ARTICLES = [
    ("koha", "/lajme/kfor", "Patrullime të KFOR-it në veri", PATROLS, 190),
    ("rts", "/vesti/kfor", "Патроле КФОР-а на северу", PATROLS, 125),
    ("bi", "/2026/kfor", "KFOR steps up patrols", PATROLS, 60),
    (
        "rts",
        "/vesti/dijalog",
        "Премијер Косова у Београду",
        "Косово и Србија наставиће дијалог, рекао је премијер по доласку у Београд.",
        95,
    ),
    (
        "n1",
        "/vesti/struja",
        "Cijena struje raste od januara",
        "Regulator je odobrio novu cijenu struje od januara, a energija će poskupjeti.",
        30,
    ),
    (
        "n1",
        "/vesti/sneg",
        "Sneg zatvorio puteve",
        "Obilne snežne padavine zatvorile su puteve.",
        20,
    ),
]
# (outlet, minutes ago, status, new articles, error)
CRAWLS = [
    ("rts", 300, "ok", 2, None),
    ("rts", 100, "error", 0, "https://www.rts.rs/rss: HTTP 503"),
    ("rts", 50, "error", 0, "https://www.rts.rs/rss: HTTP 503"),
    ("rts", 10, "error", 0, "https://www.rts.rs/rss: HTTP 503"),
    ("n1", 15, "ok", 2, None),
    ("koha", 25, "ok", 1, None),
]


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Config:
    """A configuration and its archive, in a file deliberately not called balkanwatch.db."""
    global NOW
    NOW = now = datetime.now(UTC)
    base = tmp_path_factory.mktemp("web")
    db = base / "newsroom-archive.sqlite"
    cfg_dir = write_config(base / "config", OUTLETS, TOPICS, settings={"database": str(db)})
    cfg = load_config(cfg_dir, env={}, need_secrets=False)
    store = Store(db)
    ingester = Ingester(store, cfg, TopicMatcher(cfg.topics), StoryIndex())
    hosts = {o["name"]: o["homepage"].rstrip("/") for o in OUTLETS}
    for outlet, path, title, body, minutes in ARTICLES:
        when = iso((now - timedelta(minutes=minutes)).timestamp())
        ingester.ingest(
            Document.of(
                url=hosts[outlet] + path,
                outlet=outlet,
                title=title,
                body=body,
                published=when,
                language=None,
                fetched_at=when,
            )
        )
    for outlet, minutes, status, new, error in CRAWLS:
        started = iso((now - timedelta(minutes=minutes)).timestamp())
        store.record_crawl(
            {"outlet": outlet, "started_at": started, "status": status, "error": error}
            | {"new_articles": new}
        )
    store.close()
    return cfg


def local(minutes_ago: int) -> str:
    """How the pages show that moment: `30 Nov 2026 13:05 CET`, in the configured zone."""
    moment = (NOW - timedelta(minutes=minutes_ago)).astimezone(BELGRADE)
    return f"{moment.day} {moment:%b %Y %H:%M} {moment.tzname()}"


def get(cfg: Config, path: str) -> tuple[int, str]:
    async def fetch() -> tuple[int, str]:
        ds = web.build(cfg)
        await ds.invoke_startup()
        response = await ds.client.get(path)
        return response.status_code, response.text

    return asyncio.run(fetch())


def text_of(html: str) -> str:
    """The page's words, without tags, on one line."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


# -- the pages, in-process -------------------------------------------------------------------


def test_front_page_lists_latest_stories_per_topic(archive: Config) -> None:
    status, html = get(archive, "/")
    assert status == 200
    page = text_of(html)
    kosovo = page.index("Kosovo, NATO and KFOR")
    energy = page.index("Energy prices")
    # Newest story first within the topic; the KFOR story once, under its first outlet.
    assert kosovo < page.index("Премијер Косова у Београду") < page.index("Patrullime të KFOR-it")
    assert page.index("Patrullime të KFOR-it") < energy < page.index("Cijena struje raste")
    assert page.count("Патроле КФОР-а") == 0 and page.count("KFOR steps up patrols") == 0
    assert "Koha Ditore + RTS, Balkan Insight" in page  # every outlet that carried it
    assert local(190) in page and local(95) in page  # local time, not UTC
    assert "Sneg zatvorio puteve" not in page  # matched no topic
    assert "No story yet." in page[page.index("Mining") :]
    assert 'name="viewport"' in html and "<pre" not in html  # a page to read, not SQL
    assert "Outlets to look at: RTS (failing)" in page


def test_matched_words_are_shown_and_marked(archive: Config) -> None:
    _, html = get(archive, "/")
    assert '<span class="term">Косова</span>' in html or '<span class="term">Kosova</span>' in html
    assert "<mark>KFOR</mark>" in html or "<mark>Kosovës</mark>" in html


def test_story_page_shows_how_it_spread(archive: Config) -> None:
    status, front = get(archive, "/")
    story_id = re.search(r'href="/story/(\d+)">Patrullime', front)
    assert story_id, front
    status, html = get(archive, f"/story/{story_id.group(1)}")
    assert status == 200
    page = text_of(html)
    assert "3 copies at 3 outlets: Koha Ditore, RTS, Balkan Insight" in page
    spread = page[page.index("How it spread") :]
    assert spread.index("Koha Ditore") < spread.index("RTS") < spread.index("Balkan Insight")
    for minutes, url in [
        (190, "https://www.koha.net/lajme/kfor"),
        (125, "https://www.rts.rs/vesti/kfor"),
        (60, "https://balkaninsight.com/2026/kfor"),
    ]:
        assert local(minutes) in spread and f'href="{url}"' in html
    assert "first" in spread and "+1 h 05 min" in spread and "+2 h 10 min" in spread
    assert "Патроле КФОР-а на северу" in spread  # each copy under its own title
    terms = re.search(r"<strong>Kosovo, NATO and KFOR</strong>:(.*?)</div>", html)
    assert terms and '<span class="term">Kosovës</span>' in terms.group(1)
    assert '<span class="term">КФОР-а</span>' in terms.group(1)  # words of every copy


def test_a_copy_leads_to_its_story_and_a_missing_story_is_404(archive: Config) -> None:
    store = Store(archive.database)
    copy = store.one("SELECT id FROM articles WHERE url = ?", ["https://www.rts.rs/vesti/kfor"])
    store.close()
    assert copy
    _, html = get(archive, f"/story/{copy['id']}")
    assert "<h1>Patrullime të KFOR-it në veri</h1>" in html
    assert get(archive, "/story/999999")[0] == 404


def test_outlet_health(archive: Config) -> None:
    status, html = get(archive, "/outlets")
    assert status == 200
    rows = {
        m.group(1): text_of(m.group(2))
        for m in re.finditer(r'<tr id="outlet-(\w+)">(.*?)</tr>', html, re.S)
    }
    assert set(rows) == {"rts", "n1", "koha", "bi"}
    assert rows["rts"].startswith("RTS failing " + local(10))
    assert (
        "3 consecutive failed crawls; last error: https://www.rts.rs/rss: HTTP 503" in rows["rts"]
    )
    assert rows["n1"].startswith("N1 Srbija healthy " + local(15))
    assert rows["bi"].startswith("Balkan Insight never crawled never")
    # Articles per local day over the week, today last, and the week's total.
    days = {
        m.group(1): [int(n) for n in re.findall(r'data-n="(\d+)"', m.group(2))]
        for m in re.finditer(r'<tr id="outlet-(\w+)">(.*?)</tr>', html, re.S)
    }
    today = NOW.astimezone(BELGRADE).date()
    for name in days:
        expected = [0] * 7
        for outlet, _, _, _, minutes in ARTICLES:
            day = (NOW - timedelta(minutes=minutes)).astimezone(BELGRADE).date()
            if outlet == name:
                expected[6 - (today - day).days] += 1
        assert days[name] == expected, name
        assert rows[name].endswith(f" {sum(expected)}")


@pytest.mark.parametrize(
    ("query", "titles"),
    [
        ("Kosovo", ["Премијер Косова у Београду"]),  # a Latin query finds a Cyrillic article
        ("Београд", ["Премијер Косова у Београду"]),
        ("patrullimet", ["KFOR steps up patrols", "Патроле КФОР-а на северу"]),
        ("cijena struje", ["Cijena struje raste od januara"]),
        ("nothing-like-this", []),
    ],
)
def test_search_has_the_cli_semantics(archive: Config, query: str, titles: list[str]) -> None:
    store = Store(archive.database)
    expected = [h.title for h in store.search(SearchQuery(parse_query(query), limit=50))]
    store.close()
    status, html = get(archive, f"/search?q={query}")
    assert status == 200
    found = re.findall(r'class="title" href="/story/\d+"[^>]*>([^<]*)</a>', html)
    assert all(title in found for title in titles)  # (Kosovo also finds Kosovës: more results)
    assert found == expected  # exactly what `balkanwatch search` finds, in its order


def test_search_marks_words_in_the_articles_script(archive: Config) -> None:
    _, html = get(archive, "/search?q=Kosovo")
    assert "<mark>Косово</mark>" in html


def test_hostile_query_is_text(archive: Config) -> None:
    _, html = get(archive, "/search?q=%3Cscript%3Ealert(1)%3C/script%3E")
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_tables_and_canned_queries_stay_reachable_whatever_the_file_name(archive: Config) -> None:
    assert archive.database.name == "newsroom-archive.sqlite"
    status, html = get(archive, "/balkanwatch")
    assert status == 200 and "Latest matches" in html and "Articles" in html
    status, html = get(archive, "/balkanwatch/search?q=Kosovo")
    assert status == 200 and "Премијер Косова у Београду" in html
    assert "<textarea" not in html  # SQL hidden on the query page
    status, _ = get(archive, "/balkanwatch/articles")
    assert status == 200


def test_web_refuses_a_missing_database(archive: Config, tmp_path: Path) -> None:
    missing = Config(archive.directory, archive.settings, [], [], [], tmp_path / "none.db")
    with pytest.raises(ConfigError, match="no database yet"):
        web.build(missing)
    postgres = replace(missing, database="postgresql://desk@db.example/balkanwatch")
    with pytest.raises(ConfigError, match="SQLite archives only"):
        web.build(postgres)


# -- the command, in a real browser ----------------------------------------------------------


def _chromium_or_skip() -> None:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} missing: `make test` installs the chromium package as root")
        pytest.skip(f"{CHROMIUM} not installed (Debian package chromium; `make test` as root)")


@pytest.fixture(scope="module")
def server(archive: Config, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`balkanwatch web --port P` as a user starts it; its base URL."""
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "web.log"
    env = {**os.environ, "BALKANWATCH_CONFIG": str(archive.directory)}
    env.pop("BALKANWATCH_DB", None)
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "balkanwatch.app.cli", "web", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    proc.wait()
                    pytest.fail(f"balkanwatch web did not start: {log.read_text()}")
                time.sleep(0.1)  # polling a port that is not open yet
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 412, "height": 915},  # a phone
            device_scale_factor=1,
            timezone_id="UTC",  # the page, not the browser, must put times in Belgrade's zone
        )
        try:
            yield context
        finally:
            context.close()


def test_browser_front_page_shows_stories_local_times_and_outlets(
    server: str, browser: Any
) -> None:
    page = browser.new_page()
    page.goto(server + "/")
    topics = page.locator("section.topic h2").all_inner_texts()
    assert topics == ["Kosovo, NATO and KFOR", "Energy prices", "Mining"]
    first = page.locator("#topic-kosovo-security li.story").first
    assert first.locator("a.title").inner_text() == "Премијер Косова у Београду"
    assert first.locator("time").inner_text() == local(95)
    kfor = page.locator("#topic-kosovo-security li.story").nth(1)
    assert kfor.locator(".outlets").inner_text() == "Koha Ditore + RTS, Balkan Insight"
    assert kfor.locator("time").inner_text() == local(190)
    # Readable on a phone: nothing wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 412
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "web-front-page.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    page.close()


def test_browser_latin_query_finds_cyrillic_article(server: str, browser: Any) -> None:
    page = browser.new_page()
    page.goto(server + "/")
    page.fill("form.search input[name=q]", "kosovo")
    page.press("form.search input[name=q]", "Enter")
    page.wait_for_url("**/search?q=kosovo")
    titles = page.locator("li.story a.title").all_inner_texts()
    assert "Премијер Косова у Београду" in titles
    assert "Косово" in page.locator("li.story mark").all_inner_texts()
    page.close()


def test_browser_story_page_lists_its_copies(server: str, browser: Any) -> None:
    page = browser.new_page()
    page.goto(server + "/")
    page.click("text=Patrullime të KFOR-it në veri")
    page.wait_for_url(re.compile(r".*/story/\d+$"))
    copies = page.locator("li.copy")
    assert copies.count() == 3
    assert copies.locator(".outlet").all_inner_texts() == ["Koha Ditore", "RTS", "Balkan Insight"]
    assert copies.locator(".url a").all_inner_texts() == [
        "https://www.koha.net/lajme/kfor",
        "https://www.rts.rs/vesti/kfor",
        "https://balkaninsight.com/2026/kfor",
    ]
    assert copies.locator("time").all_inner_texts() == [local(190), local(125), local(60)]
    page.close()
