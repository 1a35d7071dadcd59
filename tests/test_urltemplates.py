"""Article URL templates learned from examples: tokens, generalisation, regex, storage."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from balkanwatch.analysis.urltemplates import UrlFilter, learn_templates, segment_token

HOMEPAGES = Path(__file__).resolve().parent / "fixtures" / "homepages"
LABELS = [*sorted(HOMEPAGES.glob("*.labels.json")), *sorted(HOMEPAGES.glob("synthetic/*.json"))]


@pytest.mark.parametrize(
    ("segment", "cls"),
    [
        ("2024", "year"),
        ("05", "num2"),
        ("704", "num"),
        ("81640", "id"),
        ("29104034.html", "id"),
        ("2024-05-17", "date"),
        ("2024-05-17-kfor-patrols", "dateslug"),
        ("naslov-clanka-5412345", "slugid"),
        ("2971-vota-pro-dhe-asnje-kunder", "slug"),  # a headline that starts with a number
        ("vuciq-nuk-ka-zgjidhje", "slug"),
        ("lajme", "word"),
        ("news.php", "word"),
    ],
)
def test_segment_classes(segment: str, cls: str) -> None:
    assert segment_token(segment).cls == cls


def test_sections_generalise_and_the_slug_beside_an_id_is_optional() -> None:
    learned = learn_templates(
        [
            "https://www.koha.net/arberi/81640/djalit-te-prokurores/",
            "https://www.koha.net/sport/81548/prishtina-befasohet/",
            "https://www.koha.net/mes-per-mes/81611/rusia-debon/",
        ]
    )
    assert learned.matches("https://www.koha.net/kulture/81495/shkencetari-i-universit/")
    assert learned.matches("https://www.koha.net/kulture/81495/")
    for other in (
        "https://www.koha.net/lajme/",
        "https://www.koha.net/kulture/81495/shkencetari-i-universit",  # no trailing slash
        "https://www.koha.net/kulture/slug-without-id/",
        "https://www.koha.net/kulture/81495/shkencetari/?p=12345",
    ):
        assert not learned.matches(other), other


def test_a_constant_first_segment_stays_and_sections_may_nest() -> None:
    learned = learn_templates(
        [
            "https://dnevnik.example.rs/sr/politika/vlada-usvojila-predlog-zakona",
            "https://dnevnik.example.rs/sr/drustvo/studenti-dobili-novi-dom",
            "https://dnevnik.example.rs/sr/sport/zvezda-slavila-u-derbiju",
        ]
    )
    assert learned.matches("https://dnevnik.example.rs/sr/zabava/zanimljivosti/pas-prepesacio")
    assert not learned.matches("https://dnevnik.example.rs/en/politics/government-adopts-bill")
    assert not learned.matches("https://dnevnik.example.rs/sr/politika-privatnosti")
    assert not learned.matches("https://dnevnik.example.rs/sr/politika/izbori")  # one word


def test_query_ids_and_pangea_forms() -> None:
    learned = learn_templates(
        [
            "https://www.evropaelire.org/a/bore-ne-prishtine/28987954.html",
            "https://www.evropaelire.org/a/kosova-ne-feste-/29043924.html",
            "https://www.evropaelire.org/a/prodhimet-vendore/29094743.html",
        ]
    )
    assert learned.matches("https://www.evropaelire.org/a/29100415.html")
    assert not learned.matches("https://www.evropaelire.org/z/16983")
    assert not learned.matches("https://www.evropaelire.org/p/5974.html")
    php = learn_templates(
        [f"https://vesti.example.mk/news.php?id={n}" for n in (184470, 184471, 5)]
    )
    assert php.matches("https://vesti.example.mk/news.php?cat=4&id=184458")
    assert not php.matches("https://vesti.example.mk/category.php?cat=4")


def test_fewer_than_three_examples_learn_nothing() -> None:
    assert not learn_templates(["https://example.org/a/123456.html"] * 5)
    assert not learn_templates(["https://example.org/", "https://example.org/x/1/", "junk"])


@pytest.mark.parametrize("path", LABELS, ids=lambda p: p.name.split(".labels")[0])
def test_regex_agrees_with_templates_and_survives_storage(path: Path) -> None:
    labels = json.loads(path.read_text(encoding="utf-8"))
    learned = learn_templates(labels["examples"])
    pattern = re.compile(learned.regex())
    stored = UrlFilter.from_json(learned.to_json())
    for url in labels["articles"] + labels["not_articles"]:
        assert bool(pattern.search(url)) == learned.matches(url) == stored.matches(url), url
    configured = UrlFilter.from_pattern(learned.regex())
    assert all(configured.matches(u) == learned.matches(u) for u in labels["articles"])
