"""The extraction development pages (tests/data/extraction-dev, see its README) and their metric.

Shared by tests/test_extraction_dev.py and bench/bench_extraction.py so the test and the
printed figures can never disagree. The metric is the README's: token 4-gram shingles
of `\\w+` words of the body (title line dropped) against `expected_body`, precision,
recall and F1 per page; titles compared with case and spacing ignored.
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass
from pathlib import Path

import trafilatura
from trafilatura.utils import load_html

from balkanwatch.analysis.headline import page_title

DEV = Path(__file__).parent / "data" / "extraction-dev"
SHINGLE = 4


@dataclass(frozen=True)
class DevPage:
    id: str
    url: str
    file: str
    title: str
    expected_body: str
    paywalled: bool

    @property
    def publisher(self) -> str:
        """country/Publisher: the pages of one outlet share it."""
        return self.id.rsplit("_", 3)[0]

    def html(self) -> bytes:
        return gzip.decompress((DEV / self.file).read_bytes())


def load_pages() -> list[DevPage]:
    with (DEV / "pages.jsonl").open(encoding="utf-8") as lines:
        return [DevPage(**json.loads(line)) for line in lines if line.strip()]


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.lower())
    if len(words) < SHINGLE:
        return {tuple(words)} if words else set()
    return {tuple(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)}


def body_scores(got: str, expected: str) -> tuple[float, float, float]:
    """Precision, recall, F1 of the 4-gram shingle sets; an empty body scores 0."""
    got_set, expected_set = _shingles(got), _shingles(expected)
    if not got_set or not expected_set:
        return (0.0, 0.0, 0.0)
    common = len(got_set & expected_set)
    precision, recall = common / len(got_set), common / len(expected_set)
    f1 = 2 * precision * recall / (precision + recall) if common else 0.0
    return (precision, recall, f1)


def same_title(got: str | None, expected: str) -> bool:
    return " ".join((got or "").casefold().split()) == " ".join(expected.casefold().split())


def raw_titles(pages: list[DevPage]) -> dict[str, str]:
    """Each page's raw `<title>`, as a crawl stores it in Extracted.page_title."""
    titles = {}
    for page in pages:
        tree = load_html(page.html())
        if tree is not None and (title := page_title(tree)):
            titles[page.id] = title
    return titles


def other_titles(pages: list[DevPage], page: DevPage, titles: dict[str, str]) -> list[str]:
    """The stored `<title>`s of the same publisher's other pages: what the outlet has stored."""
    return [
        titles[other.id]
        for other in pages
        if other.publisher == page.publisher and other.id != page.id and other.id in titles
    ]


def drop_title_line(text: str, title: str | None) -> str:
    """trafilatura may start its text with the headline; the metric drops the title line."""
    first, _, rest = text.partition("\n")
    if title and " ".join(first.split()).casefold() == " ".join(title.split()).casefold():
        return rest
    return text


def bare_trafilatura(page: DevPage, html: bytes, **options: bool) -> tuple[str | None, str]:
    """Title and body from trafilatura alone (its defaults unless `options` say otherwise)."""
    doc = trafilatura.bare_extraction(html, url=page.url, with_metadata=True, **options)
    if doc is None:
        return (None, "")
    return (doc.title, drop_title_line(doc.text or "", doc.title))
