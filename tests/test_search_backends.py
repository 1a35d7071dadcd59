"""Full-text search: one table of cases, run on SQLite (FTS5) and PostgreSQL (tsvector).

The semantics both must keep: the index and the query are folded the same way (script, case,
diacritics); every word of the query must appear, in the title or the body, in any of the forms
the topic matcher gives it; `word*` is a prefix; a word with an apostrophe or hyphen (nato's,
north-east) is its parts in order; anything else that is not a word (1.5, koha.net, search
syntax) is a malformed query, refused alike on both (None below). The query language itself is
tested in tests/test_search.py.
"""

from __future__ import annotations

import pytest

from balkanwatch.analysis.query import QueryError, parse_query
from balkanwatch.core.document import seed_text
from balkanwatch.storage.search import SearchQuery
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
    ("kosovo", {"cyrillic", "latin", "albanian"}),  # Kosovës
    ("Косово", {"cyrillic", "latin", "albanian"}),
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
    ("1.5", None),
    ("5", {"macedonian"}),
    ("koha", {"hosts"}),
    ("koha.net", None),
    ("example", {"hosts"}),
    ("north-east", {"hosts"}),
    ("east", {"hosts"}),
    ("north east", {"hosts"}),
    ("kfor-a", {"cyrillic", "latin"}),
    ("kfor-*", {"cyrillic", "latin"}),
    ('"and"', {"syntax"}),
    ("and or not", {"syntax"}),
    ("near(x y)", None),
    ("col:on", None),
    ("-minus", None),  # an exclusion alone
    ("'quotes'", {"syntax"}),
    ("*", None),
    ("", None),
    ("   ", None),
    ("&|!():*<->", None),
    ("ko*so", None),
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


def found(store: Store, query: str, limit: int = 20) -> list[str]:
    return [h.outlet for h in store.search(SearchQuery(parse_query(query), limit=limit))]


@pytest.mark.parametrize(("query", "expected"), CASES, ids=[q or "empty" for q, _ in CASES])
def test_search_finds_the_same_articles_on_every_backend(
    store: Store, query: str, expected: set[str] | None
) -> None:
    if expected is None:
        with pytest.raises(QueryError):
            found(store, query)
    else:
        assert set(found(store, query)) == expected
    store.close()


def test_results_are_newest_first_with_a_snippet_in_the_original_script(store: Store) -> None:
    hits = store.search(SearchQuery(parse_query("kosov*")))
    assert [h.outlet for h in hits] == ["albanian", "latin", "cyrillic"]
    assert "Косова" in hits[2].snippet.text and "Kosova" in hits[1].snippet.text
    assert found(store, "kosov*", limit=1) == ["albanian"]
    store.close()


def test_reindexing_an_article_replaces_its_words(store: Store) -> None:
    [hit] = store.search(SearchQuery(parse_query("ellada")))
    # As the ingester does: the article is updated, then indexed again (a hit is checked
    # against the stored text, so the index follows the article).
    store.update_article(
        hit.article_id,
        {"title": "Something else", "text": seed_text("Something else", "Nothing Greek here")},
    )
    store.index_search(hit.article_id, "Something else", "Nothing Greek here")
    assert found(store, "ellada") == []
    assert found(store, "greek") == ["greek"]
    store.close()


def test_a_huge_text_is_indexed_on_every_backend(database: str) -> None:
    store = Store(database)
    body = " ".join(f"word{i}" for i in range(150_000)) + " kosovo"
    article_id = store.insert_article(
        {"url": "https://example.org/huge", "outlet": "huge", "title": "Huge",
         "text": seed_text("Huge", body),
         "fetched_at": "2026-12-01T00:00:00+00:00"}
    )  # fmt: skip
    store.index_search(article_id, "Huge", body)
    assert found(store, "word12345 huge") == ["huge"]
    store.close()
