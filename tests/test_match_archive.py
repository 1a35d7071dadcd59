"""`balkanwatch match --archive` on a fixture archive built through the real store and ingester
with yesterday's topics, then judged with today's (aliases, a NEAR topic): counts per topic and
outlet, gained and lost against the stored matches, the --since window, samples with the words
that matched; in-process for the cases, and the command once as an operator runs it."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from balkanwatch.analysis.dedup import StoryIndex
from balkanwatch.analysis.topics import TopicMatcher
from balkanwatch.app.match_archive import choose_topics, match_archive, parse_since
from balkanwatch.core.config import ConfigError, Topic, load_config
from balkanwatch.core.document import Document
from balkanwatch.core.times import iso
from balkanwatch.storage.store import Store
from pipelines.ingest import Ingester
from tests.support import cli, write_config

OUTLETS = [
    {"name": "rts", "homepage": "https://www.rts.rs/"},
    {"name": "n1", "homepage": "https://n1info.rs/"},
    {"name": "koha", "homepage": "https://www.koha.net/"},
]
# What was live when the articles came in: no aliases, and Beograd (dropped since).
OLD_TOPICS = [{"name": "kosovo-security", "keywords": ["Kosovo", "NATO", "KFOR", "Beograd"]}]
NEW_TOPICS = [
    {
        "name": "kosovo-security",
        "title": "Kosovo, NATO and KFOR",
        "keywords": [
            {"term": "Kosovo", "aliases": ["Kosovo i Metohija", "KiM", "Kosmet"]},
            {"term": "NATO", "aliases": ["Aleanca Veriatlantike"]},
            "KFOR",
        ],
    },
    {"name": "kfor-jarinje", "keywords": ["KFOR"], "require": ["KFOR NEAR/5 Jarinje"]},
]
# (outlet, path, title, body, published hours ago or None, fetched hours ago)
ARTICLES = [
    ("rts", "/1", "Програм за Србе", "Влада је усвојила програм за Србе на Космету.", 2, 2),
    ("n1", "/2", "Patrole", "Pripadnici KFOR-a raspoređeni su kod prelaza Jarinje.", 3, 3),
    ("koha", "/3", "Takim në Uashington", "Ministrat e Aleancës Veriatlantike u takuan.", 5, 5),
    ("n1", "/4", "Glumica u gradu", "Glumica Kim Bejsinger doputovala je u Beograd.", 1, 1),
    ("rts", "/5", "Косово и Србија", "Дијалог се наставља, рекао је премијер.", None, 1),
    ("koha", "/6", "Buxheti", "Qeveria e Kosovës miratoi buxhetin.", 240, 240),  # 10 days old
    ("koha", "/7", "Arkiva", "KFOR-i në vitin 1999.", 30 * 24, 4),  # old story, fetched lately
    ("n1", "/8", "KFOR", "KFOR je saopštio. Jarinje je zatvoreno.", 6, 6),  # NEAR trap
]


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    base = tmp_path_factory.mktemp("archive")
    now = datetime.now(UTC)
    old = write_config(base / "old", OUTLETS, topics=OLD_TOPICS)
    new = write_config(base / "new", OUTLETS, topics=NEW_TOPICS)
    env = {"BALKANWATCH_CONFIG": str(new), "BALKANWATCH_DB": str(base / "archive.db")}
    cfg = load_config(old, env={"BALKANWATCH_DB": env["BALKANWATCH_DB"]})
    store = Store(cfg.database)
    ingester = Ingester(store, cfg, TopicMatcher(cfg.topics), StoryIndex())
    for outlet, path, title, body, published, fetched in ARTICLES:
        ingester.ingest(
            Document.of(
                url=f"https://{outlet}.example{path}",
                outlet=outlet,
                title=title,
                body=body,
                published=None if published is None else iso(now.timestamp() - published * 3600),
                fetched_at=iso(now.timestamp() - fetched * 3600),
            )
        )
    store.close()
    return base / "archive.db", {**os.environ, **env}


def new_topics() -> list[Topic]:
    return [Topic.model_validate(t) for t in NEW_TOPICS]


def run(db: Path, since: str | None = "7d", topic: str | None = None) -> dict:
    store = Store(db)
    try:
        topics = choose_topics(new_topics(), topic)
        report = match_archive(store, topics, parse_since(since, datetime.now(UTC)), sample=10)
    finally:
        store.close()
    return report.as_json()


def test_counts_per_topic_and_outlet_with_what_changed(archive: tuple[Path, dict]) -> None:
    report = run(archive[0])
    # /6 was published ten days ago, /7 a month ago (fetched lately): outside the week
    assert report["articles"] == 6
    kosovo, jarinje = report["topics"]
    assert (kosovo["name"], kosovo["matched"]) == ("kosovo-security", 5)
    assert kosovo["outlets"] == {"rts": 2, "n1": 2, "koha": 1}
    # Kosmetu and the Albanian name of NATO are new; the Beograd article is no longer matched
    assert (kosovo["gained"], kosovo["lost"]) == (2, 1)
    assert (jarinje["name"], jarinje["matched"], jarinje["gained"]) == ("kfor-jarinje", 1, 1)
    assert jarinje["outlets"] == {"n1": 1}
    assert [s["url"] for s in jarinje["sample"]] == ["https://n1.example/2"]


def test_sample_shows_the_words_and_the_keyword_they_belong_to(archive: tuple[Path, dict]) -> None:
    kosovo = run(archive[0])["topics"][0]
    by_url = {s["url"]: s for s in kosovo["sample"]}
    kosmet = by_url["https://rts.example/1"]
    assert (kosmet["terms"], kosmet["keyword_of"], kosmet["new"]) == (
        ["Космету"],
        {"Космету": "Kosovo"},
        True,
    )
    assert by_url["https://koha.example/3"]["keyword_of"] == {"Aleancës Veriatlantike": "NATO"}
    assert by_url["https://rts.example/5"]["new"] is False  # matched when stored too
    assert "https://n1.example/4" not in by_url  # Kim the actress is not KiM


@pytest.mark.parametrize(
    ("since", "articles", "kosovo"),
    [("7d", 6, 5), ("4h", 4, 3), ("all", 8, 7)],
)
def test_since_window(archive: tuple[Path, dict], since: str, articles: int, kosovo: int) -> None:
    report = run(archive[0], since)
    assert (report["articles"], report["topics"][0]["matched"]) == (articles, kosovo)


def test_one_topic_and_bad_arguments(archive: tuple[Path, dict]) -> None:
    report = run(archive[0], topic="kfor-jarinje")
    assert [t["name"] for t in report["topics"]] == ["kfor-jarinje"]
    with pytest.raises(ConfigError, match="unknown topic 'sport'.*kosovo-security, kfor-jarinje"):
        run(archive[0], topic="sport")
    with pytest.raises(ConfigError, match="--since"):
        run(archive[0], since="last week")


def test_command_text_and_json(archive: tuple[Path, dict]) -> None:
    db, env = archive
    text = cli("match", "--archive", "--since", "7d", env=env)
    assert text.returncode == 0, text.stderr
    out = text.stdout
    assert "6 stored articles since" in out
    assert "kosovo-security (Kosovo, NATO and KFOR): 5 articles (+2 new, -1 no longer" in out
    assert "Програм за Србе" in out and "Космету (Kosovo)" in out
    assert "Kim Bejsinger" not in out
    done = cli("match", "--archive", "--topic", "kfor-jarinje", "--json", env=env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [(t["name"], t["matched"]) for t in report["topics"]] == [("kfor-jarinje", 1)]
    assert report["topics"][0]["sample"][0]["terms"] == ["KFOR-a"]
    missing = cli("match", "--archive", env={**env, "BALKANWATCH_DB": str(db) + ".none"})
    assert missing.returncode == 1 and "no database yet" in missing.stderr
