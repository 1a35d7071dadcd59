"""`balkanwatch stories` on an archive built through the real ingester: one line per story that
matched a topic, newest first, in the settings' timezone, with its first outlet and how many
others carried it (copies are recognised by the ingester's dedup, not declared here)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from balkanwatch.analysis.dedup import StoryIndex
from balkanwatch.analysis.topics import TopicMatcher
from balkanwatch.app import cli
from balkanwatch.core.config import load_config
from balkanwatch.core.document import Document
from balkanwatch.core.times import iso
from balkanwatch.storage.store import Store
from pipelines.ingest import Ingester
from tests.support import write_config

TZ = "America/New_York"  # not the default, so the test sees the setting applied
OUTLETS = [{"name": n, "homepage": f"https://{n}.example/"} for n in ("koha", "rts", "n1", "bi")]
TOPICS = [
    {"name": "kosovo-security", "title": "Kosovo", "keywords": ["Kosovo", "KFOR"]},
    {"name": "elections", "title": "Elections", "keywords": ["izbor*", "zgjedhj*"]},
]
KFOR = (
    "Trupat e KFOR-it kanë shtuar patrullimet në veri të Kosovës pas tensioneve të javës së "
    "kaluar. Sipas zëdhënësit, patrullimet do të vazhdojnë deri në qetësimin e situatës."
)
VOTE = (
    "Zgjedhjet lokale në Kosovë do të mbahen në tetor, njoftoi komisioni qendror zgjedhor pas "
    "mbledhjes së djeshme. Partitë kanë kohë deri në fund të muajit për të dorëzuar listat."
)
# (outlet, path, title, body, hours ago): a KFOR story carried by three outlets (koha first),
# an election story that is also about Kosovo, an unrelated story, and an older Kosovo story.
ARTICLES = [
    ("koha", "/kfor", "Patrullime të KFOR-it", KFOR, 3),
    ("rts", "/kfor", "KFOR pojačao patrole", KFOR, 2.5),
    ("n1", "/kfor", "KFOR patrole na severu", KFOR, 2),
    ("koha", "/kfor-copy", "KFOR: patrullime", KFOR, 1.5),  # same outlet again: not a +1
    ("koha", "/vote", "Zgjedhjet në tetor", VOTE, 1),
    ("bi", "/weather", "Snow closes roads", "Heavy snow closed several mountain roads.", 0.5),
    ("bi", "/old", "Kosovo talks resume", "Talks on Kosovo resumed in Brussels on Monday.", 50),
]


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    base = tmp_path_factory.mktemp("stories")
    cfg_dir = write_config(base / "config", OUTLETS, topics=TOPICS, settings={"timezone": TZ})
    env = {"BALKANWATCH_CONFIG": str(cfg_dir), "BALKANWATCH_DB": str(base / "archive.db")}
    cfg = load_config(env=env)
    store = Store(cfg.database)
    ingester = Ingester(store, cfg, TopicMatcher(cfg.topics), StoryIndex())
    now = datetime.now(UTC)
    for outlet, path, title, body, hours in ARTICLES:
        ingester.ingest(
            Document.of(
                url=f"https://{outlet}.example{path}",
                outlet=outlet,
                title=title,
                body=body,
                published=iso((now - timedelta(hours=hours)).timestamp()),
                fetched_at=iso((now - timedelta(hours=hours) + timedelta(minutes=5)).timestamp()),
            )
        )
    store.close()
    return env


@pytest.fixture
def stories(archive: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys):  # type: ignore[no-untyped-def]
    for key, value in archive.items():
        monkeypatch.setenv(key, value)

    def run(*args: str) -> tuple[int, str, str]:
        code = cli.main(["stories", *args])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def test_one_line_per_story_newest_first(stories) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = stories()
    lines = out.splitlines()
    assert code == 0 and len(lines) == 3
    fields = [line.split("  ") for line in lines]
    assert [f[1:] for f in fields] == [
        ["elections,kosovo-security", "Zgjedhjet në tetor", "koha", "https://koha.example/vote"],
        ["kosovo-security", "Patrullime të KFOR-it", "koha +2", "https://koha.example/kfor"],
        ["kosovo-security", "Kosovo talks resume", "bi", "https://bi.example/old"],
    ]


def test_times_are_local(stories) -> None:  # type: ignore[no-untyped-def]
    _, out, _ = stories("--json")
    first = json.loads(out)[0]
    shown = datetime.fromisoformat(first["when"]).astimezone(ZoneInfo(TZ))
    _, text, _ = stories()
    assert text.splitlines()[0].startswith(shown.strftime("%Y-%m-%d %H:%M  "))


def test_json(stories) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = stories("--json", "--topic", "kosovo-security")
    rows = json.loads(out)
    assert code == 0 and [r["title"] for r in rows] == [
        "Zgjedhjet në tetor",
        "Patrullime të KFOR-it",
        "Kosovo talks resume",
    ]
    kfor = rows[1]
    assert kfor["outlet"] == "koha" and kfor["other_outlets"] == ["rts", "n1"]
    assert kfor["copies"] == 4 and kfor["topics"] == ["kosovo-security"]


@pytest.mark.parametrize(
    ("args", "titles"),
    [
        (["--topic", "elections"], ["Zgjedhjet në tetor"]),
        (["--since", "24h"], ["Zgjedhjet në tetor", "Patrullime të KFOR-it"]),
        (["--since", "24h", "--topic", "elections", "--topic", "kosovo-security"],
         ["Zgjedhjet në tetor", "Patrullime të KFOR-it"]),
        (["--since", "10m"], []),
        (["--limit", "1"], ["Zgjedhjet në tetor"]),
    ],
)  # fmt: skip
def test_filters(stories, args: list[str], titles: list[str]) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = stories("--json", *args)
    assert code == 0 and [r["title"] for r in json.loads(out)] == titles


def test_nothing_found_says_so(stories) -> None:  # type: ignore[no-untyped-def]
    assert stories("--since", "1m")[:2] == (0, "no stories found\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--topic", "nope"], "--topic: unknown name 'nope'"),
        (["--since", "last week"], "is not a time"),
        (["--limit", "-1"], "--limit"),
        (["--limit", "99999999999999999999999"], "must be between 1 and 500"),
        (["kosovo"], "unrecognized arguments: kosovo"),
    ],
)
def test_malformed_options(stories, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    code, out, err = stories(*args)
    assert code == 2 and out == "" and err.count("\n") == 1 and message in err, err
