"""The breaking rule (distinct outlets within a window, fresh), story timelines, the outbox rows a
spreading story calls for, the alert's wording, and the `breaking` configuration."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from balkanwatch.analysis.timeline import StoryCopy, Timeline, breaking_spread, copy_of
from balkanwatch.core.config import ConfigError, load_config
from balkanwatch.delivery.breaking import breaking_rows, breaking_view
from balkanwatch.delivery.render import render_breaking
from pipelines.ingest import alert_rows
from tests.support import write_config

T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
HOUR = 3600.0


def copy(outlet: str, minutes: float, n: int = 0) -> StoryCopy:
    when = T0 + timedelta(minutes=minutes)
    return StoryCopy(
        article_id=n,
        outlet=outlet,
        url=f"https://{outlet}.example/{n}",
        title=f"Story at {outlet}",
        time=when,
        fetched_at=when + timedelta(minutes=5),
        from_page=True,
    )


def timeline(*placed: tuple[str, float]) -> Timeline:
    return Timeline.of(1, [copy(o, m, n) for n, (o, m) in enumerate(placed)])


def last_time(t: Timeline) -> datetime:
    return t.copies[-1].time


# (copies as (outlet, minutes after T0), threshold, window in hours, expected outlets or None)
RULE_CASES = [
    ("four outlets in 30 min", [("a", 0), ("b", 10), ("c", 20), ("d", 30)], 4, 2, "abcd"),
    ("three outlets are not four", [("a", 0), ("b", 10), ("c", 20)], 4, 2, None),
    ("exactly the window apart", [("a", 0), ("b", 40), ("c", 80), ("d", 120)], 4, 2, "abcd"),
    (
        "a second past the window",
        [("a", 0), ("b", 40), ("c", 80), ("d", 120 + 1 / 60)],
        4,
        2,
        None,
    ),
    (
        "wire copies at one outlet count once",
        [("a", 0), ("a", 5), ("a", 6), ("b", 10), ("b", 11), ("c", 20)],
        4,
        2,
        None,
    ),
    (
        "wire copies do not hide a fourth outlet",
        [("a", 0), ("a", 5), ("b", 10), ("c", 20), ("b", 25), ("d", 30)],
        4,
        2,
        "abcd",
    ),
    (
        "the window slides past an early outlet",
        [("a", 0), ("b", 180), ("c", 190), ("d", 200), ("e", 210)],
        4,
        2,
        "bcde",
    ),
    (
        "an early outlet counts again by a later copy",
        [("a", 0), ("b", 180), ("c", 190), ("a", 195), ("d", 200)],
        4,
        2,
        "bcad",
    ),
    (
        "later outlets of the window are listed",
        [("a", 0), ("b", 1), ("c", 50), ("d", 70)],
        2,
        1,
        "abc",
    ),
]


@pytest.mark.parametrize(
    ("placed", "threshold", "hours", "expected"),
    [case[1:] for case in RULE_CASES],
    ids=[case[0] for case in RULE_CASES],
)
def test_breaking_rule(
    placed: list[tuple[str, float]], threshold: int, hours: float, expected: str | None
) -> None:
    t = timeline(*placed)
    spread = breaking_spread(t, threshold, hours * HOUR, now=last_time(t))
    if expected is None:
        assert spread is None
        return
    assert spread is not None
    assert "".join(c.outlet for c in spread.outlets) == expected
    assert [c.time for c in spread.outlets] == sorted(c.time for c in spread.outlets)
    assert spread.span <= timedelta(hours=hours)


def test_the_spread_says_where_the_window_starts_and_when_it_tipped() -> None:
    t = timeline(("a", 0), ("a", 2), ("b", 10), ("c", 20), ("d", 30), ("e", 50))
    spread = breaking_spread(t, 4, 2 * HOUR, now=T0 + timedelta(hours=1))
    assert spread is not None
    assert spread.start == T0 and spread.reached_at == T0 + timedelta(minutes=30)
    assert spread.outlets[0].article_id == 0  # the outlet's first copy, not its wire copy
    assert len(spread.outlets) == 5  # e is in the window too


@pytest.mark.parametrize(
    ("after", "fresh"),
    [(timedelta(0), True), (timedelta(hours=2), True), (timedelta(hours=2, seconds=1), False)],
)
def test_a_story_that_spread_long_ago_is_not_breaking_now(after: timedelta, fresh: bool) -> None:
    t = timeline(("a", 0), ("b", 10), ("c", 20), ("d", 30))
    spread = breaking_spread(t, 4, 2 * HOUR, now=last_time(t) + after)
    assert (spread is not None) is fresh


def test_a_fresh_spread_after_a_stale_one_is_found() -> None:
    early = [("a", 0), ("b", 5), ("c", 10), ("d", 15)]
    late = [("e", 24 * 60), ("f", 24 * 60 + 5), ("g", 24 * 60 + 10), ("h", 24 * 60 + 15)]
    t = timeline(*early, *late)
    spread = breaking_spread(t, 4, HOUR, now=last_time(t))
    assert spread is not None and "".join(c.outlet for c in spread.outlets) == "efgh"


# -- copy times and timelines --------------------------------------------------------------------

FETCHED = "2026-12-04T10:00:00+00:00"
COPY_TIMES = [
    ("the page's time", "2026-12-04T10:40:00+01:00", "2026-12-04T09:40:00+00:00", True),
    ("no time: fetched", None, FETCHED, False),
    ("a bare date: fetched", "2026-12-04", FETCHED, False),
    ("in the future: fetched", "2026-12-04T12:00:00+01:00", FETCHED, False),
    ("unreadable: fetched", "yesterday", FETCHED, False),
]


@pytest.mark.parametrize(
    ("published", "expected", "from_page"),
    [c[1:] for c in COPY_TIMES],
    ids=[c[0] for c in COPY_TIMES],
)
def test_a_copy_appears_at_its_published_time_when_that_is_believable(
    published: str | None, expected: str, from_page: bool
) -> None:
    row = {"id": 3, "outlet": "a", "url": "u", "published": published, "fetched_at": FETCHED}
    c = copy_of(row)
    assert c.time == datetime.fromisoformat(expected) and c.from_page is from_page


def test_timeline_outlets_first_appearance_and_speed() -> None:
    t = timeline(("b", 10), ("a", 0), ("a", 3), ("c", 25), ("b", 40))
    assert t.first is not None and t.first.outlet == "a"
    assert [(o.outlet, o.copies, o.first.time) for o in t.outlets()] == [
        ("a", 2, T0),
        ("b", 2, T0 + timedelta(minutes=10)),
        ("c", 1, T0 + timedelta(minutes=25)),
    ]
    assert t.time_to(3) == timedelta(minutes=25)
    assert t.time_to(4) is None
    assert t.last_seen == T0 + timedelta(minutes=45)


# -- rows, configuration and wording -------------------------------------------------------------


def config(tmp_path: Path, subscribers: list[dict]) -> object:
    return load_config(
        write_config(
            tmp_path / "cfg",
            [
                {"name": o, "title": f"Outlet {o.upper()}", "homepage": f"https://{o}.example/"}
                for o in "abcde"
            ],
            topics=[
                {"name": "kosovo", "title": "Kosovo", "keywords": ["Kosovo"]},
                {"name": "weather", "keywords": ["snow"]},
            ],
            subscribers=subscribers,
        ),
        env={},
    )


SUBSCRIBERS = [
    {"name": "desk", "urls": ["json://127.0.0.1:9/"], "breaking": {"outlets": 4, "within": "2h"}},
    {
        "name": "evening",
        "urls": ["json://127.0.0.1:9/"],
        "digest": "daily 18:00",
        "breaking": {"outlets": 3, "within": "30m"},
    },
    {"name": "plain", "urls": ["json://127.0.0.1:9/"]},
    {
        "name": "weather-desk",
        "urls": ["json://127.0.0.1:9/"],
        "topics": ["weather"],
        "breaking": {"outlets": 2, "within": "1h"},
    },
    {
        "name": "only",
        "urls": ["json://127.0.0.1:9/"],
        "breaking": {"outlets": 4, "within": "2h", "only": True},
    },
]


def test_rows_for_subscribers_whose_rule_and_topics_the_story_meets(tmp_path: Path) -> None:
    cfg = config(tmp_path, SUBSCRIBERS)
    t = timeline(("a", 0), ("a", 2), ("b", 10), ("c", 20), ("d", 45))
    rows = breaking_rows(cfg, t, ["kosovo"], now=last_time(t))  # type: ignore[arg-type]
    # evening: 3 outlets within 30 min (a, b, c); weather-desk: not its topic; plain: no rule
    assert [(r["subscriber"], r["dedup_key"]) for r in rows] == [
        ("desk", "breaking:desk:1"),
        ("evening", "breaking:evening:1"),
        ("only", "breaking:only:1"),
    ]
    assert all(r["kind"] == "breaking" and r["story_id"] == 1 for r in rows)
    evening = json.loads(rows[1]["payload"])
    assert [o["outlet"] for o in evening["outlets"]] == ["a", "b", "c"]
    assert evening["rule"] == "3 outlets within 30m" and evening["topics"] == ["kosovo"]
    # `only: true` drops the per-story alerts, nobody else's
    per_story = {r["subscriber"] for r in alert_rows(cfg, 1, 1, ["kosovo"])}  # type: ignore[arg-type]
    assert per_story == {"desk", "evening", "plain"}


def test_the_alert_names_the_story_and_lists_each_outlet_once(tmp_path: Path) -> None:
    cfg = config(tmp_path, SUBSCRIBERS[:1])
    t = timeline(("a", 0), ("a", 2), ("b", 10), ("c", 20), ("d", 30), ("e", 50))
    (row,) = breaking_rows(cfg, t, ["kosovo"], now=last_time(t))  # type: ignore[arg-type]
    view = breaking_view(row, t, cfg)  # type: ignore[arg-type]
    assert view is not None
    message = render_breaking(view, ZoneInfo("Europe/Belgrade"))
    assert message.subject == "[Kosovo] Breaking: Story at a — 5 outlets"
    lines = message.text.splitlines()
    assert lines[:3] == [
        "Breaking story on Kosovo:",
        "Story at a",
        "5 outlets carry this story; 4 of them within 30 min (your rule: 4 outlets within 2h).",
    ]
    assert lines[5:] == [
        "- 4 Dec 2026 10:00 CET · Outlet A (+1 more copy): https://a.example/0",
        "- 4 Dec 2026 10:10 CET · Outlet B: https://b.example/2",
        "- 4 Dec 2026 10:20 CET · Outlet C: https://c.example/3",
        "- 4 Dec 2026 10:30 CET · Outlet D: https://d.example/4",
        "- 4 Dec 2026 10:50 CET · Outlet E: https://e.example/5",
    ]
    for url in ("https://a.example/0", "https://e.example/5"):
        assert f'href="{url}"' in message.html and f"(<{url}>)" in message.markdown


def test_hostile_titles_and_urls_stay_inert(tmp_path: Path) -> None:
    cfg = config(tmp_path, SUBSCRIBERS[:1])
    copies = [copy(o, m, n) for n, (o, m) in enumerate([("a", 0), ("b", 1), ("c", 2), ("d", 3)])]
    evil = StoryCopy(9, "e", "javascript:alert(1)", "Bcc: x@y\r\n<script>", T0, T0, True)
    t = Timeline.of(1, [evil, *copies])
    (row,) = breaking_rows(cfg, t, ["kosovo"], now=last_time(t))  # type: ignore[arg-type]
    view = breaking_view(row, t, cfg)  # type: ignore[arg-type]
    assert view is not None
    message = render_breaking(view, UTC)
    assert "\n" not in message.subject and "\r" not in message.subject
    assert "<script>" not in message.html and 'href="javascript' not in message.html
    assert "javascript:alert(1)" in message.text  # shown as text, never as a link
    assert "](<javascript" not in message.markdown


@pytest.mark.parametrize(
    ("breaking", "problem"),
    [
        (
            {"outlets": 1, "within": "2h"},
            "breaking.outlets: Input should be greater than or equal to 2",
        ),
        ({"outlets": 4}, "breaking.within: Field required"),
        ({"outlets": 4, "within": "soon"}, "breaking.within: bad interval 'soon'"),
        ({"outlets": 4, "within": "2h", "sources": 3}, "breaking.sources: unknown key"),
        ("4 in 2h", "breaking: Input should be a valid dictionary"),
    ],
)
def test_a_bad_breaking_rule_names_the_file_and_the_subscriber(
    tmp_path: Path, breaking: object, problem: str
) -> None:
    with pytest.raises(ConfigError) as err:
        config(tmp_path, [{"name": "desk", "urls": ["json://x/"], "breaking": breaking}])
    message = str(err.value)
    assert "subscribers.yaml: subscribers[0] (desk): " in message and problem in message


# -- through the real ingester and deliverer -----------------------------------------------------

KFOR = "01-kfor-patrols-north"


def ingest_copies(tmp_path: Path, subscribers: list[dict], minutes: list[float]) -> tuple:
    """Copies of one dedup fixture story at outlets a, b, c, ... `minutes` before T0 + 1 h,
    each fetched at T0 + 1 h, through the real Ingester into a real SQLite file."""
    from balkanwatch.analysis.dedup import StoryIndex
    from balkanwatch.analysis.topics import TopicMatcher
    from balkanwatch.core.document import Document
    from balkanwatch.storage.store import Store
    from pipelines.ingest import Ingester
    from tests.data.dedup.fixtures import load_groups

    cfg = load_config(
        write_config(
            tmp_path / "cfg",
            [{"name": o, "homepage": f"https://{o}.example/"} for o in "abcdef"],
            subscribers=subscribers,
        ),
        env={},
    )
    store = Store(cfg.database)
    ingester = Ingester(store, cfg, TopicMatcher(cfg.topics), StoryIndex())
    group = load_groups()[KFOR]
    fetched = T0 + timedelta(hours=1)
    variants = ["original", "wire_a", "wire_b", "wire_c", "wire_d", "para_added"]
    for outlet, variant, before in zip("abcdef", variants, minutes, strict=False):
        title, *paras = [ln for ln in group[variant].splitlines() if ln.strip()]
        ingester.ingest(
            Document.of(
                url=f"https://{outlet}.example/story",
                outlet=outlet,
                title=title,
                body="\n".join(paras),
                published=(fetched - timedelta(minutes=before)).isoformat(),
                language="en",
                fetched_at=fetched.isoformat(),
            )
        )
    return cfg, store


class Recorder:
    """A sender keeping what it was asked to send (tests/test_breaking_crawl.py: real SMTP)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def __call__(self, url: str, message: object) -> None:
        self.sent.append((url, message.subject))  # type: ignore[attr-defined]


def deliver(cfg: object, store: object, send: Recorder) -> None:
    import asyncio

    from balkanwatch.delivery.alerts import Deliverer

    clock = (T0 + timedelta(hours=1, minutes=1)).timestamp
    asyncio.run(Deliverer(store, cfg, clock=clock, send=send).deliver_due())  # type: ignore[arg-type]


DIGEST_DESK = {
    "name": "evening",
    "urls": ["json://127.0.0.1:9/evening"],
    "digest": "daily 18:00",
    "breaking": {"outlets": 4, "within": "1h"},
}


def test_a_digest_subscriber_gets_the_breaking_alert_at_once_and_once(tmp_path: Path) -> None:
    cfg, store = ingest_copies(tmp_path, [DIGEST_DESK], [50, 40, 30, 20, 10])
    send = Recorder()
    deliver(cfg, store, send)
    deliver(cfg, store, send)
    assert len(send.sent) == 1 and "Breaking:" in send.sent[0][1]
    assert send.sent[0][1].endswith("— 5 outlets")
    kinds = store.rows("SELECT kind, status FROM alerts ORDER BY id")
    assert kinds == [
        {"kind": "digest-item", "status": "pending"},  # the story waits for the 18:00 digest
        {"kind": "breaking", "status": "sent"},
    ]
    store.close()


def test_a_story_that_spread_hours_ago_is_not_announced(tmp_path: Path) -> None:
    # Four outlets within 30 minutes, but four hours before the crawl stored them.
    cfg, store = ingest_copies(tmp_path, [DIGEST_DESK], [270, 260, 250, 240])
    assert store.rows("SELECT id FROM alerts WHERE kind = 'breaking'") == []
    store.close()


def test_a_subscriber_who_dropped_the_rule_is_not_sent_a_queued_alert(tmp_path: Path) -> None:
    cfg, store = ingest_copies(tmp_path, [DIGEST_DESK], [50, 40, 30, 20])
    narrowed = load_config(
        write_config(
            tmp_path / "cfg2",
            [{"name": o, "homepage": f"https://{o}.example/"} for o in "abcdef"],
            subscribers=[{**DIGEST_DESK, "breaking": None}],
        ),
        env={},
    )
    send = Recorder()
    deliver(narrowed, store, send)
    assert send.sent == []
    (row,) = store.rows("SELECT status, last_error FROM alerts WHERE kind = 'breaking'")
    assert row == {
        "status": "failed",
        "last_error": "subscriber no longer asks for breaking alerts",
    }


@pytest.fixture
def shared_db(tmp_path: Path) -> str:
    """The database two writers share. At merge with the PostgreSQL test server (tests/pg.py),
    take the `database` fixture instead, so this runs on both backends: there the story lock
    (`Store.lock_story`) is what makes it pass."""
    return str(tmp_path / "shared.db")


def test_two_writers_adding_the_last_copies_at_once_still_tip_the_story(
    tmp_path: Path, shared_db: str
) -> None:
    import threading
    import time

    from balkanwatch.analysis.topics import TopicMatcher
    from balkanwatch.core.document import Document
    from balkanwatch.storage.store import Store
    from pipelines.ingest import Ingester, build_index
    from tests.data.dedup.fixtures import load_groups

    cfg = load_config(
        write_config(
            tmp_path / "cfg",
            [{"name": o, "homepage": f"https://{o}.example/"} for o in "abcd"],
            subscribers=[DIGEST_DESK],
        ),
        env={},
    )
    group = load_groups()[KFOR]
    fetched = datetime.now(UTC).replace(microsecond=0)

    def copy_at(outlet: str, variant: str, before: int) -> Document:
        title, *paras = [ln for ln in group[variant].splitlines() if ln.strip()]
        return Document.of(
            url=f"https://{outlet}.example/{variant}",
            outlet=outlet,
            title=title,
            body="\n".join(paras),
            published=(fetched - timedelta(minutes=before)).isoformat(),
            language="en",
            fetched_at=fetched.isoformat(),
        )

    def writer() -> Ingester:
        store = Store(shared_db)
        return Ingester(store, cfg, TopicMatcher(cfg.topics), build_index(store, 14))

    first = writer()
    for outlet, variant, before in (("a", "original", 50), ("b", "wire_a", 40)):
        with first.store.transaction():
            first.ingest(copy_at(outlet, variant, before))
    a_stored, results = threading.Event(), []

    def third() -> None:  # stores outlet c and keeps its transaction open a moment
        ingester = writer()  # a connection of its own thread, as a second host has
        with ingester.store.transaction():
            results.append(ingester.ingest(copy_at("c", "wire_b", 30)))
            a_stored.set()
            time.sleep(0.5)  # not a wait for anything: the overlap with the fourth writer
        ingester.store.close()

    def fourth() -> None:
        a_stored.wait(30)
        ingester = writer()
        with ingester.store.transaction():
            results.append(ingester.ingest(copy_at("d", "wire_c", 20)))
        ingester.store.close()

    threads = [threading.Thread(target=third), threading.Thread(target=fourth)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(r.status for r in results) == ["duplicate", "duplicate"]
    rows = first.store.rows("SELECT dedup_key FROM alerts WHERE kind = 'breaking'")
    assert len(rows) == 1
    first.store.close()
