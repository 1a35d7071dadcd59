"""balkanwatch.analysis.metadata: what a page declares besides headline and body."""

from __future__ import annotations

import pytest

from balkanwatch.analysis.extract import extract_article, parse_html
from balkanwatch.analysis.metadata import author, declared, published, sitename
from tests.test_extract import page


def test_a_page_without_a_declared_date_gets_htmldates_reading_of_its_url() -> None:
    extracted = extract_article(page(), url="https://example.rs/2026/03/02/budget-adopted")
    assert extracted is not None
    assert extracted.published == "2026-03-02"


def test_a_declared_time_wins_over_the_url() -> None:
    head = '<meta property="article:published_time" content="2026-03-04T08:00:00Z">'
    tree = parse_html(page(head=head).encode())
    assert tree is not None
    url = "https://example.rs/2026/03/02/budget-adopted"
    assert published(declared(tree), tree, url) == "2026-03-04T08:00:00+00:00"


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        pytest.param('<meta name="author" content="By  Ana  Petrović">', "Ana Petrović", id="meta"),
        pytest.param(
            '<meta name="author" content="Redakcija">'
            '<script type="application/ld+json">{"@type": "NewsArticle", "author": '
            '[{"@type": "Person", "name": "Ana Petrović"}, {"name": "Arben Hoxha"}]}</script>',
            "Ana Petrović; Arben Hoxha",
            id="json-ld-people-first",
        ),
        pytest.param(
            '<meta name="author" content="https://example.rs/autor/ana">'
            '<meta property="article:author" content="a.petrovic@example.rs">',
            None,
            id="profile-url-and-e-mail-are-not-names",
        ),
    ],
)
def test_author(head: str, expected: str | None) -> None:
    tree = parse_html(page(head=head).encode())
    assert tree is not None
    assert author(declared(tree)) == expected


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        pytest.param(
            '<meta property="og:site_name" content="Koha  Ditore">', "Koha Ditore", id="og"
        ),
        pytest.param(
            '<script type="application/ld+json">{"@type": "NewsArticle", "publisher": '
            '{"@type": "NewsMediaOrganization", "name": "RTS"}}</script>',
            "RTS",
            id="json-ld-publisher",
        ),
        pytest.param('<meta name="twitter:site" content="@N1info">', "N1info", id="twitter"),
        pytest.param("", None, id="none"),
    ],
)
def test_sitename(head: str, expected: str | None) -> None:
    tree = parse_html(page(head=head).encode())
    assert tree is not None
    assert sitename(declared(tree)) == expected
