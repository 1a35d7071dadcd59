"""A Next.js page whose article only its flight data carries (balkanwatch.analysis.flight)."""

from __future__ import annotations

import json

from balkanwatch.analysis.extract import extract_article, parse_html
from balkanwatch.analysis.flight import article_html

PARAGRAPHS = [
    "Vlada u Prištini usvojila je nacrt budžeta za iduću godinu na sjednici u četvrtak.",
    "Ministar finansija rekao je da budžet predviđa veća izdvajanja za zdravstvo i škole.",
    "Opozicija je najavila da će zakon osporiti pred Ustavnim sudom u narednim sedmicama.",
    "Skupština bi o budžetu trebalo da raspravlja početkom decembra, kažu poslanici.",
    "Граѓанските организации побараа јавна расправа за буџетот пред гласањето.",
]
ARTICLE = (
    '<div class="editor-img-box"><img src="/a.jpg"><div class="caption"><p>Photo</p></div></div>'
    "$$ARTICLEAD$$" + "".join(f'<p class="editor-p">{p}</p>' for p in PARAGRAPHS)
)


def flight_rows(article: str) -> str:
    """Flight data as Next.js streams it: JSON rows, and the article as a text row whose
    length counts UTF-8 bytes, not characters."""
    size = len(article.encode("utf-8"))
    return (
        '0:["$","$L1",null,{"children":"$24"}]\n1:I[4959,[],"ClientArticle"]\n'
        f"24:T{size:x},{article}"
        '25:["$","p",null,{"children":"Read also"}]\n'
    )


def next_page(flight: str, pieces: int = 3, head: str = "") -> str:
    step = len(flight) // pieces + 1
    pushes = "".join(
        f"<script>self.__next_f.push([1,{json.dumps(flight[i : i + step])}])</script>"
        for i in range(0, len(flight), step)
    )
    return (
        "<!DOCTYPE html><html lang='bs'><head><meta charset='utf-8'>"
        "<title>Budžet usvojen | Portal</title>"
        f"<meta property='og:title' content='Budžet usvojen'>{head}</head>"
        "<body><nav><a href='/'>Početna</a> <a href='/vijesti'>Vijesti</a> <a href='/sport'>Sport"
        "</a></nav><main><article></article></main>"
        "<script>(self.__next_f=self.__next_f||[]).push([0])</script>"
        f"{pushes}</body></html>"
    )


def test_the_article_of_a_client_rendered_page_comes_from_its_flight_data() -> None:
    extracted = extract_article(next_page(flight_rows(ARTICLE)), "https://portal.example/a/1")
    assert extracted is not None
    assert extracted.title == "Budžet usvojen"
    for paragraph in PARAGRAPHS:
        assert paragraph in extracted.body  # whole: the row's byte length was honoured
    assert "ARTICLEAD" not in extracted.text
    assert "Read also" not in extracted.text


def test_a_row_split_across_pushes_and_escaped_is_put_together() -> None:
    page = parse_html(next_page(flight_rows(ARTICLE), pieces=7).encode())
    assert page is not None
    found = article_html(page)
    assert found is not None
    assert PARAGRAPHS[-1].encode() in found and b"$$ARTICLEAD$$" not in found


def test_pages_without_a_streamed_article_are_left_as_they_are() -> None:
    short = flight_rows("<p>Tiny widget</p>")
    page = parse_html(next_page(short).encode())
    assert page is not None and article_html(page) is None
    assert extract_article(next_page(short)) is None  # still no article text


def test_malformed_flight_data_costs_nothing_but_itself() -> None:
    """A push that is not a JSON string is skipped; a text row longer than the data is read to
    the end of the data."""
    size = len(ARTICLE.encode()) * 3
    page = next_page(f"24:T{size:x},{ARTICLE}").replace(
        "</body>", '<script>self.__next_f.push([1,"\\x-not-json"])</script></body>'
    )
    extracted = extract_article(page)
    assert extracted is not None
    assert all(paragraph in extracted.body for paragraph in PARAGRAPHS)
