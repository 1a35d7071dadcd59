"""Full-text search: one table of cases, run on SQLite (FTS5) and PostgreSQL (tsvector).

The semantics both must keep: the index and the query are folded the same way (script, case,
diacritics); every word of the query must appear, in the title or the body; `word*` is a prefix;
a word written with inner punctuation (nato's, north-east, 1.5) is its parts in order; search
syntax typed by a user is inert text.
"""

from __future__ import annotations

import pytest

from balkanwatch.core.document import seed_text
from balkanwatch.storage.store import Store

ARTICLES = {
    "cyrillic": ("Косово и НАТО", "Патроле КФОР-а на северу Косова, рекао је Ђорђе Лајчак."),
    "latin": ("Kosovo i NATO", "Patrole KFOR-a na severu Kosova, rekao je Đorđe Lajčák."),
    "albanian": ("Policia e Kosovës", "Shqipëri dhe çështje e veriut, tha zëdhënësi i NATO's."),
    "greek": ("Η Ελλάδα και η ΕΕ", "Ο πρωθυπουργός στην Αθήνα για τη Βόρεια Μακεδονία."),
    "macedonian": ("Ѓорѓи во Скопје", "Северна Македонија и ЕУЛЕКС, рече Ѓорѓи на 1.5 км."),
    "hosts": ("Press release", "Read it at koha.net or mail desk@example.org on north-east roads."),
    "syntax": ('Quotes "and" stars', "A title with AND OR NOT NEAR(x y) col:on 'quotes' -minus."),
}

# (query, the articles it finds)
CASES = [
    ("kosovo", {"cyrillic", "latin"}),
    ("Косово", {"cyrillic", "latin"}),
    ("kosov*", {"cyrillic", "latin", "albanian"}),
    ("КОСОВ*", {"cyrillic", "latin", "albanian"}),
    ("kosovës", {"albanian"}),
    ("kosoves", {"albanian"}),
    ("nato kfor", {"cyrillic", "latin"}),  # every word, title and body together
    ("nato severu", {"cyrillic", "latin"}),
    ("nato zzz", set()),
    ("lajcak", {"cyrillic", "latin"}),
    ("Лајчак djordje", {"cyrillic", "latin"}),
    ("ђорђе", {"cyrillic", "latin"}),
    ("gjorgji", {"macedonian"}),
    ("Ѓорѓи", {"macedonian"}),
    ("euleks", {"macedonian"}),
    ("eulex", {"macedonian"}),
    ("shqiperi ceshtje", {"albanian"}),
    ("nato's", {"albanian"}),
    ("nato", {"cyrillic", "latin", "albanian"}),
    ("s", {"albanian"}),  # the part after the apostrophe is a word of its own
    ("ελλάδα", {"greek"}),
    ("ellada athina", {"greek"}),
    ("αθην*", {"greek"}),
    ("makedon*", {"greek", "macedonian"}),
    ("1.5", {"macedonian"}),
    ("5", {"macedonian"}),
    ("koha", {"hosts"}),
    ("koha.net", {"hosts"}),
    ("example", {"hosts"}),
    ("north-east", {"hosts"}),
    ("east", {"hosts"}),
    ("north east", {"hosts"}),
    ("kfor-a", {"cyrillic", "latin"}),
    ("kfor-*", {"cyrillic", "latin"}),
    ('"and"', {"syntax"}),
    ("and or not", {"syntax"}),
    ("near(x y)", {"syntax"}),
    ("col:on", {"syntax"}),
    ("-minus", {"syntax"}),
    ("'quotes'", {"syntax"}),
    ("*", set()),
    ("", set()),
    ("   ", set()),
    ("&|!():*<->", set()),
    ("ko*so", set()),  # a star inside a word is punctuation: ko and so, neither present
]


@pytest.fixture
def store(database: str) -> Store:
    store = Store(database)
    for i, (key, (title, body)) in enumerate(ARTICLES.items()):
        article_id = store.insert_article(
            {
                "url": f"https://example.org/{key}",
                "outlet": key,
                "title": title,
                "text": seed_text(title, body),
                "fetched_at": f"2026-12-01T0{i}:00:00+00:00",
            }
        )
        store.index_search(article_id, title, body)
    return store


@pytest.mark.parametrize(("query", "expected"), CASES, ids=[q or "empty" for q, _ in CASES])
def test_search_finds_the_same_articles_on_every_backend(
    store: Store, query: str, expected: set[str]
) -> None:
    assert {r["outlet"] for r in store.search(query)} == expected
    store.close()


def test_results_are_newest_first_with_a_snippet_in_the_original_script(store: Store) -> None:
    rows = store.search("kosov*")
    assert [r["outlet"] for r in rows] == ["albanian", "latin", "cyrillic"]
    assert "Косова" in rows[2]["snippet"] and "Kosova" in rows[1]["snippet"]
    assert [r["outlet"] for r in store.search("kosov*", limit=1)] == ["albanian"]
    store.close()


def test_reindexing_an_article_replaces_its_words(store: Store) -> None:
    [row] = store.search("ellada")
    store.index_search(row["id"], "Something else", "Nothing Greek here")
    assert store.search("ellada") == []
    assert [r["outlet"] for r in store.search("greek")] == ["greek"]
    store.close()


def test_a_huge_text_is_indexed_on_every_backend(database: str) -> None:
    store = Store(database)
    body = " ".join(f"word{i}" for i in range(150_000)) + " kosovo"
    article_id = store.insert_article(
        {"url": "https://example.org/huge", "outlet": "huge", "title": "Huge", "text": body,
         "fetched_at": "2026-12-01T00:00:00+00:00"}
    )  # fmt: skip
    store.index_search(article_id, "Huge", body)
    assert [r["outlet"] for r in store.search("word12345 huge")] == ["huge"]
    store.close()
