"""`balkanwatch status` and `balkanwatch search` on a small archive built through the real store
and ingester: the commands run as an operator runs them (a subprocess with BALKANWATCH_CONFIG and
BALKANWATCH_DB), plus a table of search cases run in-process for speed."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from balkanwatch.analysis.dedup import StoryIndex
from balkanwatch.analysis.topics import TopicMatcher
from balkanwatch.app import cli
from balkanwatch.app.report import relative
from balkanwatch.core.config import load_config
from balkanwatch.core.document import Document
from balkanwatch.core.times import iso
from balkanwatch.storage.store import Store
from pipelines.ingest import Ingester
from tests.support import cli as run_cli
from tests.support import write_config

NOW = datetime.now(UTC)  # the CLI reads the real clock; offsets sit mid-unit to stay stable

OUTLETS = [
    {"name": "rts", "title": "RTS", "homepage": "https://www.rts.rs/", "language": "sr"},
    {"name": "n1", "title": "N1", "homepage": "https://n1info.rs/", "language": "sr"},
    {"name": "koha", "title": "Koha", "homepage": "https://www.koha.net/", "language": "sq"},
    {
        "name": "bi",
        "title": "Balkan Insight",
        "homepage": "https://balkaninsight.com/",
        "enabled": False,
    },
]
SUBSCRIBERS = [
    {"name": "newsdesk", "urls": ["mailtos://desk:s3cret-pass@smtp.example.org?to=d@example.org"]},
    {"name": "morning", "urls": ["json://localhost/"], "digest": "daily 08:00"},
]
# (outlet, path, title, body, published hours ago or None: fetched only)
ARTICLES = [
    (
        "rts",
        "/vesti/1",
        "Премијер Косова у Београду",
        "Косово и Србија наставиће дијалог, рекао је премијер по доласку у Београд.",
        1.5,
    ),
    (
        "n1",
        "/vesti/2",
        "Đurić: dijalog Kosovo i Srbija se nastavlja",
        "Ministar Đurić rekao je da se dijalog o statusu Kosovo nastavlja u Briselu.",
        3.5,
    ),
    (
        "koha",
        "/lajme/3",
        "Takim në Priština për energjinë",
        "Përfaqësuesit u takuan në Priština për të diskutuar çmimet e energjisë.",
        None,
    ),
    (
        "n1",
        "/vesti/4",
        "Sneg zatvorio puteve oko Skoplja",
        "Obilne snežne padavine zatvorile su nekoliko planinskih puteva oko Skoplja.",
        30.5,
    ),
]
# (outlet, minutes ago, status, new articles, error): newest last
CRAWLS = [
    ("rts", 400, "ok", 2, None),
    ("rts", 300, "error", 0, "https://www.rts.rs/rss: HTTP 503"),
    ("rts", 200, "error", 0, "https://www.rts.rs/rss: HTTP 503"),
    ("rts", 150.5, "error", 0, "https://www.rts.rs/rss: HTTP 503"),
    ("n1", 20.5, "ok", 3, None),
    ("koha", 45.5, "ok", 0, None),
]


def ago(**kw: float) -> str:
    return iso((NOW - timedelta(**kw)).timestamp())


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A configuration directory and, elsewhere, its database; returns the CLI environment."""
    # Times are relative to when the archive is built, not to when the module was collected:
    # in a full run the tests start minutes after collection.
    global NOW
    NOW = datetime.now(UTC)
    base = tmp_path_factory.mktemp("report")
    cfg_dir = write_config(
        base / "config",
        OUTLETS,
        subscribers=SUBSCRIBERS,
        settings={"database": str(base / "not-this.db")},
    )
    env = {"BALKANWATCH_CONFIG": str(cfg_dir), "BALKANWATCH_DB": str(base / "archive.db")}
    cfg = load_config(env=env)
    store = Store(cfg.database)
    ingester = Ingester(store, cfg, TopicMatcher(cfg.topics), StoryIndex())
    hosts = {o["name"]: o["homepage"].rstrip("/") for o in OUTLETS}
    for i, (outlet, path, title, body, hours) in enumerate(ARTICLES):
        ingester.ingest(
            Document.of(
                url=hosts[outlet] + path,
                outlet=outlet,
                title=title,
                body=body,
                published=ago(hours=hours) if hours is not None else None,
                language=None,
                fetched_at=ago(minutes=30 + i),
            )
        )
    for outlet, minutes, status, new, error in CRAWLS:
        store.record_crawl(
            {
                "outlet": outlet,
                "started_at": ago(minutes=minutes),
                "finished_at": ago(minutes=minutes - 1),
                "status": status,
                "error": error,
                "new_articles": new,
            }
        )
    instant = store.rows("SELECT id FROM alerts WHERE kind = 'instant' ORDER BY id")
    assert len(instant) == 2  # the two Kosovo stories
    store.mark_attempt_failed(
        instant[0]["id"], "smtp.example.org: connection refused", ago(minutes=-45.5)
    )
    store.mark_attempt_failed(instant[1]["id"], "Slack: invalid_token", None, give_up=True)
    store.close()
    return {**os.environ, **env}


def run(env: dict[str, str], *args: str) -> str:
    proc = run_cli(*args, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_status_text(archive: dict[str, str]) -> None:
    out = run(archive, "status")
    lines = out.splitlines()
    assert lines[0].split() == [
        "outlet",
        "last",
        "crawl",
        "result",
        "new",
        "failures",
        "no-new",
        "runs",
        "articles",
    ]
    table = {line.split()[0]: line.split() for line in lines[1:5]}
    assert table["rts"] == ["rts", "2h", "ago", "error", "0", "3", "3", "1"]
    assert table["n1"] == ["n1", "20m", "ago", "ok", "3", "0", "0", "2"]
    assert table["koha"] == ["koha", "45m", "ago", "ok", "0", "0", "1", "1"]
    assert table["bi"] == ["bi", "(off)", "never", "-", "0", "0", "0", "0"]
    assert "  rts: https://www.rts.rs/rss: HTTP 503" in lines
    # Two instant alerts (one retrying, one given up) and two digest items waiting.
    assert "Articles: 4.  Alerts: 3 pending, 0 sent, 1 failed." in lines
    retrying = next(line for line in lines if "connection refused" in line)
    assert "to newsdesk (instant): 1 attempts, retry in 45m: smtp.example.org" in retrying
    assert any("Slack: invalid_token" in line for line in lines)
    assert "s3cret" not in out


def test_status_json(archive: dict[str, str]) -> None:
    report = json.loads(run(archive, "status", "--json"))
    assert report["database"] == archive["BALKANWATCH_DB"]  # the environment wins over settings
    assert report["alerts"] == {"pending": 3, "sent": 0, "failed": 1}
    rts = next(o for o in report["outlets"] if o["outlet"] == "rts")
    assert rts["consecutive_failures"] == 3 and rts["result"] == "error"
    assert rts["error"] == "https://www.rts.rs/rss: HTTP 503"
    assert {o["outlet"]: o["enabled"] for o in report["outlets"]} == {
        "rts": True,
        "n1": True,
        "koha": True,
        "bi": False,
    }
    assert [a["last_error"] for a in report["alerts_with_errors"]] == [
        "smtp.example.org: connection refused",
        "Slack: invalid_token",
    ]


def test_search_text(archive: dict[str, str]) -> None:
    lines = run(archive, "search", "Kosovo").splitlines()
    assert len(lines) == 6  # two articles, three lines each
    # Times are shown in the configured timezone (Europe/Belgrade), not as stored (UTC).
    newest = json.loads(run(archive, "search", "--json", "Kosovo"))[0]
    shown = datetime.fromisoformat(newest["published"]).astimezone(ZoneInfo("Europe/Belgrade"))
    assert lines[0].startswith(shown.strftime("%Y-%m-%d %H:%M  "))
    assert lines[0].endswith("rts  Премијер Косова у Београду")
    assert lines[1] == "    https://www.rts.rs/vesti/1"
    # The snippet is the article's own sentence, in its own script, with the hit marked.
    assert (
        lines[2].strip()
        == "[Косово] и Србија наставиће дијалог, рекао је премијер по доласку у Београд."
    )
    assert lines[3].endswith("n1  Đurić: dijalog Kosovo i Srbija se nastavlja")


@pytest.mark.parametrize(
    ("query", "titles"),
    [
        ("Kosovo", ["Премијер Косова у Београду", "Đurić: dijalog Kosovo i Srbija se nastavlja"]),
        ("Косово", ["Премијер Косова у Београду", "Đurić: dijalog Kosovo i Srbija se nastavlja"]),
        ("Beograd", ["Премијер Косова у Београду"]),
        ("Приштина", ["Takim në Priština për energjinë"]),
        ("pristina", ["Takim në Priština për energjinë"]),
        ("Ђурић", ["Đurić: dijalog Kosovo i Srbija se nastavlja"]),
        ("djuric kosovo", ["Đurić: dijalog Kosovo i Srbija se nastavlja"]),
        ("kosovo skoplje", []),  # every word must appear (malformed input: test_search.py)
    ],
)
def test_search_is_script_and_accent_insensitive(
    archive: dict[str, str],
    query: str,
    titles: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for key in ("BALKANWATCH_CONFIG", "BALKANWATCH_DB"):
        monkeypatch.setenv(key, archive[key])
    assert cli.main(["search", "--json", *query.split()]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["title"] for r in rows] == titles


def test_search_without_hits_says_so(archive: dict[str, str]) -> None:
    assert run(archive, "search", "Tirana").strip() == "no articles found"


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (timedelta(seconds=5), "5s ago"),
        (timedelta(minutes=59, seconds=59), "59m ago"),
        (timedelta(hours=2, minutes=30), "2h ago"),
        (timedelta(days=3, hours=1), "3d ago"),
        (-timedelta(minutes=45, seconds=30), "in 45m"),
    ],
)
def test_relative(offset: timedelta, expected: str) -> None:
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    assert relative((now - offset).isoformat(), now) == expected


def test_relative_never_and_naive() -> None:
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    assert relative(None, now) == "never"
    assert relative("2026-11-30T11:00:00", now) == "1h ago"  # naive times are UTC, as stored
