"""`balkanwatch search` on an archive built through the real store and ingester: a table of
queries (inflections in sq, sr in both scripts, mk, bs, hr and en; the matcher's traps; phrases,
exclusions, prefixes; every filter) and a table of malformed input, each one line and exit 2.

The cases run in-process (cli.main) for speed; one runs as an operator runs it (a subprocess) to
show that even an absurd number ends in one line, not a traceback."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from balkanwatch.analysis.dedup import StoryIndex
from balkanwatch.analysis.query import QueryError, parse_query, snippet
from balkanwatch.analysis.topics import TopicMatcher
from balkanwatch.app import cli
from balkanwatch.core.config import load_config
from balkanwatch.core.document import Document
from balkanwatch.core.times import iso
from balkanwatch.storage.search import SearchQuery, key_range, order_key, when_seconds
from balkanwatch.storage.store import Store
from pipelines.ingest import Ingester
from tests.support import cli as run_cli
from tests.support import write_config

OUTLETS = [
    {"name": n, "homepage": f"https://{n}.example/", "language": lang}
    for n, lang in [
        ("koha", "sq"),
        ("rts", "sr"),
        ("n1", "sr"),
        ("mia", "mk"),
        ("klix", "bs"),
        ("index", "hr"),
        ("bi", "en"),
    ]
]
TOPICS = [
    {"name": "kosovo-security", "title": "Kosovo", "keywords": ["Kosovo", "NATO", "KFOR"]},
    {"name": "elections", "title": "Elections", "keywords": ["izbor*", "zgjedhj*"]},
]
# key: (outlet, language, hours ago, title, body)
ARTICLES = {
    "sq": (
        "koha",
        "sq",
        2,
        "Qeveria e Kosovës miraton buxhetin",
        "Kuvendi votoi sot buxhetin. Presidentja Vjosa Osmani tha se kosovarët meritojnë më "
        "shumë. Trupat e KFOR-it patrulluan në veri.",
    ),
    "trap-nato": (
        "n1",
        "sr",
        3,
        "Konobar natočio vino",
        "Konobar je natočio vino gostima. Natalija Nikolić osvojila je medalju. Donator je "
        "poklonio bolnici aparat.",
    ),
    "trap-kosovac": (
        "n1",
        "sr",
        4,
        "Glumac Nikola Kosovac nagrađen",
        "Glumac Nikola Kosovac dobio je nagradu. Ulica nosi ime po pesniku Srećku Kosovelu.",
    ),
    "sr-cyrl": (
        "rts",
        "sr",
        5,
        "Премијер о Косову",
        "Косово и Србија настављају дијалог у Бриселу. Представници НАТО-а су присуствовали.",
    ),
    "trap-italian": (
        "bi",
        "it",
        6,
        "Un ambasciatore a Tirana",
        "Il nuovo ambasciatore, nato a Roma, arriva a Tirana la settimana prossima.",
    ),
    "sr-latn": (
        "n1",
        "sr",
        10,
        "Kosovski zvaničnici u Beogradu",
        "Delegacija Kosova stigla je u Beograd. Razgovori o Kosovu nastavljaju se sutra.",
    ),
    "sq-osmani": (
        "koha",
        "sq",
        20,
        "Vjosa Osmani takon Albin Kurtin",
        "Presidentja Vjosa Osmani dhe kryeministri Kurti folën për zgjedhjet. Bujar Osmani "
        "ishte në Shkup.",
    ),
    "mk": (
        "mia",
        "mk",
        30,
        "Средба во Скопје",
        "Претставниците на Косово и Северна Македонија разговараа во Скопје за НАТО.",
    ),
    "izbori": (
        "n1",
        "sr",
        40,
        "Izbori u Srbiji",
        "Izbori su zakazani za jun, a kampanja počinje u maju.",
    ),
    "predizborni": (
        "n1",
        "sr",
        45,
        "Skup u Nišu",
        "Predizborni skup održan je u Nišu uz veliki broj posetilaca.",
    ),
    "bs": (
        "klix",
        "bs",
        50,
        "Sastanak u Sarajevu",
        "Ministri su u Sarajevu razgovarali o Kosovu i regionalnoj saradnji.",
    ),
    "hr": (
        "index",
        "hr",
        75,
        "Hrvatska i Kosovo potpisali sporazum",
        "Hrvatski ministar rekao je da Kosovo ima potporu Zagreba.",
    ),
    "en": (
        "bi",
        "en",
        100,
        "Kosovar leaders meet in Brussels",
        "Kosovar officials met EU envoys. NATO's KFOR mission said patrols continue in "
        "Kosovo's north.",
    ),
}
TITLE = {key: a[3] for key, a in ARTICLES.items()}
KOSOVO = ["sq", "sr-cyrl", "sr-latn", "mk", "bs", "hr", "en"]  # newest first


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    base = tmp_path_factory.mktemp("search")
    cfg_dir = write_config(base / "config", OUTLETS, topics=TOPICS)
    env = {"BALKANWATCH_CONFIG": str(cfg_dir), "BALKANWATCH_DB": str(base / "archive.db")}
    cfg = load_config(env=env)
    store = Store(cfg.database)
    ingester = Ingester(store, cfg, TopicMatcher(cfg.topics), StoryIndex())
    now = datetime.now(UTC)
    for key, (outlet, lang, hours, title, body) in ARTICLES.items():
        ingester.ingest(
            Document.of(
                url=f"https://{outlet}.example/{key}",
                outlet=outlet,
                title=title,
                body=body,
                published=iso((now - timedelta(hours=hours + 0.5)).timestamp()),
                language=lang,
                fetched_at=iso((now - timedelta(hours=hours)).timestamp()),
            )
        )
    store.close()
    return env


@pytest.fixture
def search(archive: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys):  # type: ignore[no-untyped-def]
    for key, value in archive.items():
        monkeypatch.setenv(key, value)

    def run(*args: str) -> tuple[int, str, str]:
        code = cli.main(["search", *args])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def titles(run, *args: str) -> list[str]:  # type: ignore[no-untyped-def]
    code, out, err = run("--json", *args)
    assert code == 0, err
    return [hit["title"] for hit in json.loads(out)]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        # every form, every script, newest first; Kosovac (a surname) and Kosovel (a poet) not
        (["kosovo"], KOSOVO),
        (["Косово"], KOSOVO),
        (["Kosovac"], ["trap-kosovac"]),
        # NATO: НАТО-а, НАТО, NATO's; never natočio, Natalija, Donator, nor Italian "nato"
        (["NATO"], ["sr-cyrl", "mk", "en"]),
        (["НАТО"], ["sr-cyrl", "mk", "en"]),
        (["KFOR"], ["sq", "en"]),  # KFOR-it, KFOR
        (["natočio"], ["trap-nato"]),
        (["Natalija"], ["trap-nato"]),
        # one language each
        (["Skopje"], ["mk"]),
        (["Скопје"], ["mk"]),
        (["Sarajevo"], ["bs"]),  # Sarajevu
        (["Zagreb"], ["hr"]),  # Zagreba
        (["Brisel"], ["sr-cyrl"]),  # Бриселу
        (["Brussels"], ["en"]),
        (["Beograd"], ["sr-latn"]),  # Beogradu, Beograd
        (["Kurti"], ["sq-osmani"]),  # Kurtin
        # phrases: the words adjacent, each in any form
        (['"Vjosa Osmani"'], ["sq", "sq-osmani"]),
        (["Vjosa Osmani"], ["sq", "sq-osmani"]),  # one argument with a space is a phrase
        (['"Bujar Osmani"'], ["sq-osmani"]),
        (['"Osmani Bujar"'], []),
        (["Osmani", '-"Bujar Osmani"'], ["sq"]),
        # prefixes: a literal start of a word
        (["izbor*"], ["izbori"]),  # not Predizborni
        (["predizbor*"], ["predizborni"]),
        # exclusions, and every word must appear
        (["kosovo", "-NATO"], ["sq", "sr-latn", "bs", "hr"]),
        (["kosovo", "-srbija"], ["sq", "sr-latn", "mk", "bs", "hr", "en"]),  # Србија
        (["kosovo Beograd"], []),  # one argument: a phrase, and these are not adjacent
        (['"Delegacija Kosovo"'], ["sr-latn"]),  # Delegacija Kosova
        (["kosovo", "Beograd"], ["sr-latn"]),
        (["kosovo", "Tirana"], []),
        # filters
        (["kosovo", "--outlet", "koha"], ["sq"]),
        (["kosovo", "--outlet", "koha", "--outlet", "bi"], ["sq", "en"]),
        (["kosovo", "--language", "sr"], ["sr-cyrl", "sr-latn"]),
        (["kosovo", "--language", "SR", "--language", "mk"], ["sr-cyrl", "sr-latn", "mk"]),
        (["Osmani", "--topic", "kosovo-security"], ["sq"]),
        (["Osmani", "--topic", "elections"], ["sq-osmani"]),  # zgjedhjet
        (["kosovo", "--since", "24h"], ["sq", "sr-cyrl", "sr-latn"]),
        (["kosovo", "--until", "24h"], ["mk", "bs", "hr", "en"]),
        (["kosovo", "--since", "60h", "--until", "1d"], ["mk", "bs"]),
        (["kosovo", "--since", "90m"], []),
        (["kosovo", "--limit", "2"], ["sq", "sr-cyrl"]),
    ],
)
def test_search_cases(search, args: list[str], expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    assert titles(search, *args) == [TITLE[k] for k in expected]


def test_the_traps_are_found_by_their_own_words_only(search) -> None:  # type: ignore[no-untyped-def]
    for query in ("nato", "NATO", "kosovo", "Kosova", "Косово"):
        found = titles(search, query)
        assert TITLE["trap-nato"] not in found and TITLE["trap-kosovac"] not in found, query
    assert TITLE["trap-italian"] not in titles(search, "NATO")


def test_dates_are_days_of_the_settings_timezone(search) -> None:  # type: ignore[no-untyped-def]
    tomorrow = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    assert titles(search, "kosovo", "--until", tomorrow) == [TITLE[k] for k in KOSOVO]
    assert titles(search, "kosovo", "--since", tomorrow) == []


def test_relevance_sort_finds_the_same_articles(search) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = search("--json", "--sort", "relevance", "kosovo")
    hits = json.loads(out)
    assert code == 0 and sorted(h["title"] for h in hits) == sorted(TITLE[k] for k in KOSOVO)
    assert all(isinstance(h["score"], float) for h in hits)
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True)


def test_snippets_are_in_the_article_script_with_the_words_marked(search) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = search("--json", "kosovo", "--outlet", "rts")
    (hit,) = json.loads(out)
    assert hit["snippet"] == "[Косово] и Србија настављају дијалог у Бриселу."
    assert hit["terms"] == ["Косову", "Косово"]
    assert hit["outlet"] == "rts" and hit["url"] == "https://rts.example/sr-cyrl"
    code, out, _ = search("--json", "NATO", "--outlet", "bi")
    assert json.loads(out)[0]["snippet"] == (
        "[NATO's] KFOR mission said patrols continue in Kosovo's north."
    )


def test_text_output(search) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = search('"Vjosa Osmani"', "--since", "12h")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 3
    assert lines[0].endswith("  koha  Qeveria e Kosovës miraton buxhetin")
    assert lines[1] == "    https://koha.example/sq"
    assert lines[2] == "    Presidentja [Vjosa Osmani] tha se kosovarët meritojnë më shumë."
    code, out, _ = search("Tirana", "kosovo")
    assert (code, out) == (0, "no articles found\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["kosovo", "--limit", "100000000000000000000"], "--limit: must be between 1 and 500"),
        (["kosovo", "--limit", "0"], "--limit: must be between 1 and 500"),
        (["kosovo", "--limit", "ten"], "--limit: 'ten' is not a whole number"),
        (['"Vjosa Osmani'], "unbalanced quote"),
        (['"; DROP TABLE articles; --'], "unbalanced quote"),
        (['""'], "empty phrase"),
        (["*"], "a lone *"),
        (["ko*"], "too short"),
        (["ko*sovo"], "a * only at its end"),
        (["NEAR(kosovo", "beograd)"], "letters and digits"),
        (["kosovo", "OR", "nato"], "no operators"),
        (["-srbija"], "nothing to search for"),
        (["-"], "a minus is followed by the word"),
        ([], "empty query"),
        (
            ["kosovo", "nato", "kfor", "beograd", "skopje", "tirana", "zagreb", "brisel", "eu"],
            "too many terms (9; at most 8)",
        ),
        (["kosovo", "--since", "yesterday"], "'yesterday' is not a time"),
        (["kosovo", "--until", "12x"], "'12x' is not a time"),
        (["kosovo", "--since", "99999999999d"], "is not a time"),
        (["kosovo", "--since", "1d", "--until", "2d"], "--until must be later than --since"),
        (["kosovo", "--outlet", "nope"], "--outlet: unknown name 'nope'"),
        (["kosovo", "--topic", "nope"], "--topic: unknown name 'nope'"),
        (["kosovo", "--language", "serbian"], "not a language code"),
        (["kosovo", "--sort", "date"], "invalid choice: 'date'"),
        (["kosovo", "--bogus"], "unrecognized arguments: --bogus"),
        (["kosovo", "--outlet"], "expected one argument"),
    ],
)
def test_malformed_input_is_one_line_and_exit_2(search, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    code, out, err = search(*args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("balkanwatch search: "), err
    assert message in err


def test_an_absurd_limit_from_the_shell_is_one_line(archive: dict[str, str]) -> None:
    import os

    proc = run_cli("search", "kosovo", "--limit", "1" + "0" * 20, env={**os.environ, **archive})
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == "balkanwatch search: argument --limit: must be between 1 and 500\n"


def test_help_lists_the_query_language(search) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as stop:
        cli.main(["search", "--help"])
    assert stop.value.code == 0


# --- the pieces, directly ----------------------------------------------------------------------


def test_the_order_key_sorts_newest_first_and_ranges_select_by_time() -> None:
    t = 1_764_000_000
    assert order_key(t + 60, 1) < order_key(t, 2) < order_key(t, 1)  # same second: higher id first
    lo, hi = key_range(datetime.fromtimestamp(t, UTC), datetime.fromtimestamp(t + 60, UTC))
    assert lo <= order_key(t, 5) <= hi
    assert lo <= order_key(t + 59, 5) <= hi
    assert not lo <= order_key(t + 60, 5) <= hi  # until is exclusive
    assert not lo <= order_key(t - 1, 5) <= hi
    # the earlier of published and fetched; a future or unreadable publication time gives way
    assert when_seconds("2026-01-01T00:00:00+01:00", "2026-01-01T00:00:00Z") == 1767222000
    assert when_seconds("2999-01-01", "2026-01-01T00:00:00Z") == 1767225600
    assert when_seconds("soon", "2026-01-01T00:00:00Z") == 1767225600


def test_snippet_marks_every_hit_inside_a_cut_sentence() -> None:
    text = "Uvod. " + "Reč " * 80 + "o Kosovu i Kosovu danas " + "i još " * 60 + "kraj."
    q = parse_query("kosovo")
    found = q.check("", text)
    assert found is not None and len(found["body"]) == 2
    shown = snippet(text, found["body"])
    assert shown.text.startswith("…") and shown.text.endswith("…")
    assert len(shown.text) < 260
    assert [shown.text[a:b] for a, b in shown.marks] == ["Kosovu", "Kosovu"]


def test_a_store_query_is_bounded() -> None:
    with pytest.raises(QueryError):
        SearchQuery(parse_query("kosovo"), limit=10**20)
    with pytest.raises(QueryError):
        SearchQuery(parse_query("kosovo"), sort="oldest")


def test_an_edited_article_is_found_by_its_new_words_only(tmp_path: Path) -> None:
    store = Store(tmp_path / "edit.db")
    row = {
        "url": "https://x.example/1",
        "outlet": "x",
        "title": "Vesti",
        "text": "Vesti\nKosovo danas.",
        "fetched_at": "2026-12-01T10:00:00+00:00",
    }
    aid = store.insert_article(row)
    store.index_search(aid, "Vesti", "Kosovo danas.")
    store.update_article(aid, {"text": "Vesti\nSkopje danas."})
    store.index_search(aid, "Vesti", "Skopje danas.")  # the same time: a new key all the same
    found = {q: [h.article_id for h in store.search(SearchQuery(parse_query(q)))]
             for q in ("kosovo", "skopje", "danas")}  # fmt: skip
    assert found == {"kosovo": [], "skopje": [aid], "danas": [aid]}
    store.close()
