"""Golden test over the extraction dev pages (tests/data/extraction-dev, real pages of 92
publishers with fundus's hand-written expected title and body; see its README).

Bare trafilatura is measured on the same pages in the same run, so the comparison holds
whatever version is installed. bench/bench_extraction.py prints the same figures.
"""

from __future__ import annotations

import statistics

import pytest

from balkanwatch.analysis.extract import extract_article
from tests.extraction_dev import (
    DevPage,
    bare_trafilatura,
    body_scores,
    load_pages,
    other_titles,
    raw_titles,
    same_title,
)

# Measured 0.868 (112 of 129) on the extract2 branch, 0.853 before. Not the 0.95 issue 18
# asks for: on 13 pages fundus's parser keeps og:title where the page shows the JSON-LD
# headline, or the reverse (Euronews, Daily Mail, Metro, ZDF, AP...), a per-publisher
# choice no rule over the page can make for publishers never seen (preferring og:title
# would gain 9 of those pages and lose 9 others); 3 more differ by quote marks or a
# " - Güncel haberler" label kept. See the report on the extract2 branch. 0.876 (113) since
# a client-rendered Next.js page is read from its flight data (balkanwatch.analysis.flight).
TITLE_EXACT_FLOOR = 0.87
BODY_F1_FLOOR = 0.5  # per page, unless bare trafilatura cannot read the page either
BELOW_TRAFILATURA = 0.12  # no page may fall further than this below bare trafilatura


@pytest.fixture(scope="module")
def runs() -> list[tuple[DevPage, str | None, float, float]]:
    """(page, product title, product body F1, bare trafilatura body F1) for every page."""
    pages = load_pages()
    titles = raw_titles(pages)
    measured = []
    for page in pages:
        html = page.html()
        known = other_titles(pages, page, titles)
        extracted = extract_article(html, page.url, known_titles=known)
        ours = body_scores(extracted.body if extracted else "", page.expected_body)[2]
        _, bare = bare_trafilatura(page, html)
        theirs = body_scores(bare, page.expected_body)[2]
        measured.append((page, extracted.title if extracted else None, ours, theirs))
    return measured


def test_titles_exact(runs: list[tuple[DevPage, str | None, float, float]]) -> None:
    exact = [same_title(title, page.title) for page, title, _, _ in runs]
    assert sum(exact) / len(exact) >= TITLE_EXACT_FLOOR


def test_mean_body_f1_not_below_bare_trafilatura(runs) -> None:
    ours = statistics.fmean(f1 for _, _, f1, _ in runs)
    theirs = statistics.fmean(f1 for _, _, _, f1 in runs)
    assert ours >= theirs


def test_body_f1_floor_per_page(runs) -> None:
    low = [
        (page.id, round(ours, 3), round(theirs, 3))
        for page, _, ours, theirs in runs
        if (ours < BODY_F1_FLOOR and theirs >= BODY_F1_FLOOR) or ours < theirs - BELOW_TRAFILATURA
    ]
    assert low == []
