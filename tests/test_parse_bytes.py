"""Workers parse a page's UTF-8 bytes (extract.parse_html) instead of its decoded text through
trafilatura's load_html: the tree, and so the extraction, must be the same."""

from __future__ import annotations

import dataclasses
import gzip
import json
from pathlib import Path

import lxml.html
import pytest
from trafilatura.utils import load_html

from balkanwatch.analysis.charset import decode_html
from balkanwatch.analysis.extract import extract_article, parse_html, utf8_bytes

ROOT = Path(__file__).resolve().parent
REAL = ROOT / "data" / "extraction-dev"


def pages() -> list[tuple[str, bytes]]:
    rows = [json.loads(line) for line in (REAL / "pages.jsonl").read_text("utf-8").splitlines()]
    real = [(r["id"], gzip.decompress((REAL / r["file"]).read_bytes())) for r in rows[::8]]
    golden = sorted((ROOT / "fixtures" / "pages").glob("*.html"))
    return real + [(p.name, p.read_bytes()) for p in golden]


@pytest.mark.parametrize(("name", "body"), pages(), ids=[n for n, _ in pages()])
def test_bytes_and_text_give_the_same_tree_and_article(name: str, body: bytes) -> None:
    text = decode_html(body).text
    from_text, from_bytes = load_html(text), parse_html(utf8_bytes(body, decode_html(body)))
    assert from_text is not None and from_bytes is not None
    assert lxml.html.tostring(from_text) == lxml.html.tostring(from_bytes)
    article = extract_article(body, "http://127.0.0.1/a")
    assert article is not None
    assert dataclasses.asdict(article) == dataclasses.asdict(
        extract_article(text, "http://127.0.0.1/a")
    )


@pytest.mark.parametrize(
    "html",
    [
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0//EN" "http://www.w3.org/TR/xhtml1/DTD/x.dtd">'
        "\n<html><head><title>T</title></head>"
        "<body><p>Body \x0b text\ufffe here.</p></body></html>",
        '<html lang="sr"/>\n<head><title>T</title></head><body><p>Тело текста.</p></body></html>',
        "<p>just a fragment</p>",
    ],
)
def test_load_htmls_repairs_and_refusals_hold_on_bytes(html: str) -> None:
    from_text, from_bytes = load_html(html), parse_html(html.encode("utf-8"))
    if from_text is None:
        assert from_bytes is None
    else:
        assert from_bytes is not None
        assert lxml.html.tostring(from_text) == lxml.html.tostring(from_bytes)


def test_a_legacy_page_is_parsed_from_its_text_in_utf8() -> None:
    body = "<html><head></head><body><p>Čačak i Šabac, Priština.</p></body></html>".encode("cp1250")
    decoded = decode_html(body, None, "sr")
    assert decoded.encoding == "cp1250"
    tree = parse_html(utf8_bytes(body, decoded))
    assert tree is not None and "Čačak i Šabac" in tree.text_content()
