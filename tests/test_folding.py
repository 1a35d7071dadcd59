"""One folding for topics, search, dedup, snippets and rendering (balkanwatch.core.folding).

Every letter of the region's alphabets folds the same way on every path that compares text, so a
word found by topic matching is found by search, recognised by dedup and emphasised in alerts.
"""

from __future__ import annotations

import pytest

from balkanwatch.analysis.dedup import normalise_for_fingerprint
from balkanwatch.analysis.query import parse_query
from balkanwatch.analysis.topics import snippet_for_words
from balkanwatch.core.folding import FOLD_VERSION, Folded, fold, fold_with_origin
from balkanwatch.delivery.render import emphasis_spans
from balkanwatch.storage.search import SearchQuery, match_expression

ALPHABETS = {
    "sq": "abcçddheëfggjhijklllmnnjopqrrrssshttheuvxxhyzzh",
    "sr-latn": "abcčćddžđefghijklljmnnjoprsštuvzž",
    "sr-cyrl": "абвгдђежзијклљмнњопрстћуфхцчџш",
    "mk": "абвгдѓежзѕијклљмнњопрстќуфхцчџш",
    "bs": "abcčćddžđefghijklljmnnjoprsštuvzž",
    "hr": "abcčćddžđefghijklljmnnjoprsštuvzž",
    "el": "αβγδεζηθικλμνξοπρστυφχψω",
}
# Serbian Cyrillic and Serbian Latin are one language in two scripts: letter for letter equal.
SERBIAN_PAIRS = list(zip("абвгдђежзијклмнопрстћуфхцчш", "abvgdđežzijklmnoprstćufhcčš", strict=True))


@pytest.mark.parametrize("language", sorted(ALPHABETS))
def test_every_letter_folds_identically_on_every_path(language: str) -> None:
    for letter in ALPHABETS[language] + ALPHABETS[language].upper():
        word = f"pre{letter}post"
        folded = fold(word)
        assert folded.isascii(), (letter, folded)
        # dedup: the same folding, then punctuation collapsed
        assert normalise_for_fingerprint(word) == folded
        # search: the index stores fold(text); the query's forms are folded the same way
        assert f'"{folded}"' in match_expression(SearchQuery(parse_query(word)), "sqlite")
        # snippets and emphasis find the word whatever script the term was written in
        assert snippet_for_words(f"x {word} y", [word]) is not None
        assert emphasis_spans(f"x {word} y", [word]) == [(2, 2 + len(word))]


@pytest.mark.parametrize(("cyrillic", "latin"), SERBIAN_PAIRS)
def test_serbian_scripts_meet(cyrillic: str, latin: str) -> None:
    assert fold(cyrillic) == fold(latin)
    assert fold(cyrillic.upper()) == fold(latin.upper())


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Ѓорѓе", "gjorgje"),  # Macedonian ѓ is gj, as in its Latin transliteration
        ("Ќосе", "kjose"),
        ("ЕУЛЕКС", "euleks"),
        ("EULEX", "euleks"),
        ("Kosovës", "kosoves"),
        ("Đurić", "djuric"),
        ("ΝΑΤΟ", "nato"),
        ("NATO’s", "nato's"),
        ("Ko\u00adsovo", "kosovo"),
    ],
)
def test_fold_table(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_positions_map_back_to_the_original() -> None:
    text = "Премијер Косова"
    folded, origin = fold_with_origin(text)
    start = folded.index("kosova")
    assert text[origin[start] :] == "Косова"
    mapped = Folded(text)
    assert text[slice(*mapped.span(start, start + len("kosova")))] == "Косова"


def test_fold_version_is_recorded() -> None:
    assert isinstance(FOLD_VERSION, int) and FOLD_VERSION >= 1


@pytest.mark.parametrize(
    ("text", "term"), [("на Ѓорѓе Петров", "Gjorgje"), ("Еулекс", "EULEX"), ("Kosovës", "Косовес")]
)
def test_a_term_in_one_script_is_found_in_the_other(text: str, term: str) -> None:
    assert emphasis_spans(text, [term])
    assert snippet_for_words(text, [term]) is not None


def test_spans_map_back_exactly_whatever_the_folded_lengths() -> None:
    # Against the character-by-character definition: every folded offset comes from the original
    # character whose folded form covers it (x -> ks, љ -> lj, soft hyphen -> nothing, accents).
    import random

    from balkanwatch.core.folding import fold as fold_text

    rng = random.Random(7)
    alphabet = "axXљЉđĐ\u00adé\u0301 ЂkšКо-'’ﬁß" + "abc" * 5
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40)))
        folded = Folded(text)
        owner = [i for i, c in enumerate(text) for _ in fold_text(c)]
        for start in range(len(folded.text)):
            for end in range(start + 1, len(folded.text) + 1):
                a, b = folded.span(start, end)
                assert a == owner[start], (text, start)
                assert b >= owner[end - 1] + 1
                assert text[owner[end - 1] + 1 : b].strip("\u0301") == ""
