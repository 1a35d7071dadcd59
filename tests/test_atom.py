"""Atom feeds per topic: built from a real store filled through the Ingester, parsed back with
feedparser the way a feed reader would."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest

from balkanwatch.analysis.dedup import StoryIndex
from balkanwatch.analysis.topics import TopicMatcher
from balkanwatch.core.config import Config, Outlet, Settings, Topic
from balkanwatch.core.document import Document
from balkanwatch.delivery.atom import (
    FeedEntry,
    clean_text,
    parse_time,
    render_topic_feed,
    topic_entries,
    write_atomic,
    write_topic_feeds,
)
from balkanwatch.storage.store import Store
from pipelines.ingest import Ingester

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
KOSOVO = Topic(
    name="kosovo-security", title="Kosovo, NATO and KFOR", keywords=["Kosovo", "NATO", "KFOR"]
)
MINING = Topic(name="mining", title="Mining", keywords=["Trepča", "rudnik"])
OUTLETS = [
    Outlet(name="koha", title="Koha Ditore", homepage="https://www.koha.net/", language="sq"),
    Outlet(name="rts", title="RTS\x07 Србија", homepage="https://www.rts.rs/", language="sr"),
    Outlet(name="n1", title="N1", homepage="https://n1info.rs/", language="sr"),
]
HOSTILE = "NATO <script>alert('x')</script> & \x07Kosovo\x0b \"quoted\" ]]> end"

# (path, outlet, title, body, published, fetched_at)
ARTICLES = [
    (
        "/a",
        "koha",
        "KFOR-i shton patrullimet në veri",
        "Trupat e KFOR-it kanë shtuar patrullimet në veri të Kosovës pas tensioneve të javës "
        "së kaluar. Sipas zëdhënësit, patrullimet do të vazhdojnë deri në qetësimin e situatës "
        "dhe bashkëpunimi me policinë është i mirë.",  # long enough to be recognised as a copy
        "2026-11-30T08:30:00+01:00",
        "2026-11-30T08:00:00+00:00",
    ),  # 07:30 UTC: older than /b although "08:30" > "07:45"
    (
        "/b",
        "rts",
        "Састанак о Косову у Београду",
        "Делегације су у Београду разговарале о безбедности на Косову и улози НАТО-а у региону.",
        "2026-11-30T07:45:00+00:00",
        "2026-11-30T08:00:00+00:00",
    ),
    (
        "/c",
        "n1",
        HOSTILE,
        "Analitičari tvrde da NATO ostaje ključan za stabilnost Kosova i "
        "cijelog regiona zapadnog Balkana.",
        None,
        "2026-11-30T07:00:00+00:00",
    ),  # no date: fetched
    (
        "/d",
        "koha",
        "Kosovo police step up border checks",
        "Kosovo police said on Monday they "
        "would step up checks at all border crossings with Serbia.",
        "2027-05-01T00:00:00+00:00",
        "2026-11-30T06:00:00+00:00",
    ),  # published "in the future": counts as fetched at 06:00
    (
        "/e",
        "n1",
        "Snow closes roads around Skopje",
        "Heavy snow closed mountain roads around Skopje and the weather service warned of more.",
        "2026-11-30T09:00:00+00:00",
        "2026-11-30T09:05:00+00:00",
    ),  # no topic
]
# The same body as /a at another outlet: one story, shown once, the copy as a related link.
COPY = (
    "/a-copy",
    "rts",
    "Patrullime të KFOR-it",
    ARTICLES[0][3],
    "2026-11-30T09:30:00+00:00",
    "2026-11-30T09:40:00+00:00",
)


def config(tmp_path: Path, topics: list[Topic] | None = None) -> Config:
    return Config(tmp_path, Settings(), OUTLETS, topics or [KOSOVO, MINING], [], tmp_path / "bw.db")


def ingest(store: Store, cfg: Config, rows: list[tuple]) -> None:
    ingester = Ingester(store, cfg, TopicMatcher(cfg.topics), StoryIndex())
    for path, outlet, title, body, published, fetched in rows:
        host = {"koha": "www.koha.net", "rts": "www.rts.rs", "n1": "n1info.rs"}[outlet]
        ingester.ingest(
            Document.of(
                url=f"https://{host}{path}",
                outlet=outlet,
                title=title,
                body=body,
                published=published,
                language=None,
                fetched_at=fetched,
            )
        )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "bw.db")
    ingest(s, config(tmp_path), [*ARTICLES, COPY])
    return s


def parse(data: bytes) -> feedparser.FeedParserDict:
    feed = feedparser.parse(data)
    assert not feed.bozo, feed.get("bozo_exception")
    return feed


def test_feed_is_newest_first_with_one_entry_per_story(tmp_path: Path, store: Store) -> None:
    cfg = config(tmp_path)
    paths = write_topic_feeds(store, cfg, tmp_path / "feeds", NOW)
    assert paths == [tmp_path / "feeds/kosovo-security.xml", tmp_path / "feeds/mining.xml"]
    feed = parse(paths[0].read_bytes())
    assert feed.feed.title == "balkanwatch: Kosovo, NATO and KFOR"
    assert feed.feed.id == "tag:balkanwatch,2026:topic:kosovo-security"
    assert [e.link for e in feed.entries] == [
        "https://www.rts.rs/b",
        "https://www.koha.net/a",
        "https://n1info.rs/c",
        "https://www.koha.net/d",
    ]
    assert [e.id for e in feed.entries] == [e.link for e in feed.entries]
    assert feed.entries[0].title == "Састанак о Косову у Београду"
    assert feed.entries[0].author == "RTS Србија"  # control character gone
    assert feed.entries[0].published == "2026-11-30T07:45:00Z"
    assert "published" not in feed.entries[2]  # the page gave no date: only <updated>
    assert feed.entries[2].updated == "2026-11-30T07:00:00Z"
    assert feed.entries[3].updated == "2026-11-30T06:00:00Z"  # clamped future date
    # the newest entry, not the clock: /a's entry changed when its copy at RTS was stored
    assert feed.entries[1].updated == feed.feed.updated == "2026-11-30T09:40:00Z"


def test_entry_carries_snippet_terms_outlet_and_copies(tmp_path: Path, store: Store) -> None:
    feed = parse(write_topic_feeds(store, config(tmp_path), tmp_path, NOW)[0].read_bytes())
    koha = next(e for e in feed.entries if e.link == "https://www.koha.net/a")
    assert koha.title == "KFOR-i shton patrullimet në veri"
    assert koha.author_detail == {"name": "Koha Ditore", "href": "https://www.koha.net/"}
    assert "KFOR-it" in koha.summary and "Kosovës" in koha.summary
    assert {t.term for t in koha.tags} >= {"KFOR-i", "Kosovës"}
    related = [(link.href, link.title) for link in koha.links if link.rel == "related"]
    assert related == [("https://www.rts.rs/a-copy", "RTS Србија")]
    # The story's timeline as content: each outlet with its time and link, earliest first.
    assert koha.content[0].type == "text/html"
    timeline = koha.content[0].value
    assert "Carried by 2 outlets:" in timeline and "Kosovës" in timeline
    assert timeline.index("2026-11-30 07:30 UTC") < timeline.index("2026-11-30 09:30 UTC")
    assert '<a href="https://www.rts.rs/a-copy">RTS Србија</a>' in timeline
    single = next(e for e in feed.entries if e.link == "https://www.rts.rs/b")
    assert "content" not in single  # one copy: no timeline to show


def test_hostile_title_survives_as_text(tmp_path: Path, store: Store) -> None:
    data = write_topic_feeds(store, config(tmp_path), tmp_path, NOW)[0].read_bytes()
    assert b"\x07" not in data and b"\x0b" not in data
    entry = next(e for e in parse(data).entries if e.link == "https://n1info.rs/c")
    assert entry.title == "NATO <script>alert('x')</script> & Kosovo \"quoted\" ]]> end"


def test_topic_without_matches_is_a_valid_empty_feed(tmp_path: Path, store: Store) -> None:
    mining = write_topic_feeds(store, config(tmp_path), tmp_path, NOW)[1]
    feed = parse(mining.read_bytes())
    assert feed.entries == []
    assert feed.feed.updated == "2026-11-30T12:00:00Z"


def test_limit_keeps_the_newest(tmp_path: Path, store: Store) -> None:
    entries = topic_entries(store, "kosovo-security", {o.name: o for o in OUTLETS}, limit=2)
    assert [e.url for e in entries] == ["https://www.rts.rs/b", "https://www.koha.net/a"]


@pytest.mark.parametrize(
    ("text", "one_line", "expected"),
    [
        ("a\x00b\x1fc", False, "abc"),
        ("tab\tand\nnewline kept", False, "tab\tand\nnewline kept"),
        ("  many\n\t lines \r\n ", True, "many lines"),
        ("C1\x85 and DEL\x7f", True, "C1 and DEL"),
        ("lone \ud800 surrogate \ufffe", True, "lone surrogate"),
        ("Ђорђе Ђурић", True, "Ђорђе Ђурић"),
        (None, True, ""),
    ],
)
def test_clean_text(text: str | None, one_line: bool, expected: str) -> None:
    assert clean_text(text, one_line=one_line) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-30T08:30:00+01:00", datetime(2026, 11, 30, 7, 30, tzinfo=UTC)),
        ("2026-11-30T08:30:00Z", datetime(2026, 11, 30, 8, 30, tzinfo=UTC)),
        ("2026-11-30T08:30:00", datetime(2026, 11, 30, 8, 30, tzinfo=UTC)),
        ("2026-11-30", datetime(2026, 11, 30, tzinfo=UTC)),
        ("yesterday", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_time(value: str | None, expected: datetime | None) -> None:
    assert parse_time(value) == expected


def test_render_is_pure_and_escapes_everything() -> None:
    entry = FeedEntry(
        url="https://example.org/a?x=1&y=<2>",
        title="<b>&amp;</b>\x01",
        outlet="O & O",
        outlet_url=None,
        when=NOW,
        updated=NOW,
        published=True,
        summary="5 < 6 & 7 > 3",
        terms=("NATO", "NATO", "НАТО"),
        language="sr",
    )
    data = render_topic_feed(KOSOVO, [entry], NOW, self_url="https://feeds.example.org/k.xml")
    assert data == render_topic_feed(
        KOSOVO, [entry], NOW, self_url="https://feeds.example.org/k.xml"
    )
    feed = parse(data)
    e = feed.entries[0]
    assert (e.title, e.summary, e.author) == ("<b>&amp;</b>", "5 < 6 & 7 > 3", "O & O")
    assert e.link == "https://example.org/a?x=1&y=<2>"
    assert [t.term for t in e.tags] == ["NATO", "НАТО"]
    assert e.title_detail.language == "sr"
    assert feed.feed.links[0].href == "https://feeds.example.org/k.xml"


# -- the file on disk ---------------------------------------------------------------------------


def test_unchanged_feed_is_not_rewritten(tmp_path: Path, store: Store) -> None:
    path = write_topic_feeds(store, config(tmp_path), tmp_path, NOW)[0]
    before = path.stat()
    write_topic_feeds(store, config(tmp_path), tmp_path, NOW)
    assert path.stat().st_ino == before.st_ino and path.stat().st_mtime_ns == before.st_mtime_ns
    assert stat.S_IMODE(before.st_mode) == 0o644  # readable by the web server


def test_feed_is_replaced_atomically(tmp_path: Path, store: Store) -> None:
    cfg = config(tmp_path)
    path = write_topic_feeds(store, cfg, tmp_path / "feeds", NOW)[0]
    old = path.read_bytes()
    with path.open("rb") as reader:  # a web server in the middle of sending the old feed
        ingest(
            store,
            cfg,
            [
                (
                    "/f",
                    "n1",
                    "NATO summit opens",
                    "Leaders met at the NATO summit to discuss Kosovo and the region.",
                    None,
                    "2026-11-30T11:00:00Z",
                )
            ],
        )
        write_topic_feeds(store, cfg, tmp_path / "feeds", NOW)
        assert reader.read() == old  # the old file is whole, not truncated or mixed
    assert parse(path.read_bytes()).entries[0].link == "https://n1info.rs/f"
    assert sorted(p.name for p in path.parent.iterdir()) == ["kosovo-security.xml", "mining.xml"]


def test_failed_write_keeps_the_old_feed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "t.xml"
    path.write_bytes(b"old")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(path, b"new")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["t.xml"]  # no temporary file left
