"""The meta-refresh middleware rules a refresh out in the page's bytes before Scrapy decodes the
whole page to look for one; every refresh Scrapy would follow is still followed."""

from __future__ import annotations

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from crawler.redirects import OwnOriginMetaRefreshMiddleware, _may_refresh

URL = "http://127.0.0.1:8080/2026/12/01/story"
REFRESH = '<meta http-equiv="refresh" content="0; url=/2026/12/01/moved">'


def respond(head: str, encoding: str = "utf-8", declared: str = "utf-8") -> HtmlResponse:
    html = f"<html><head>{head}<title>t</title></head><body><p>Text.</p></body></html>"
    return HtmlResponse(
        URL,
        body=html.encode(encoding),
        headers={"Content-Type": f"text/html; charset={declared}"},
    )


def process(response: HtmlResponse) -> Request | HtmlResponse:
    middleware = OwnOriginMetaRefreshMiddleware.from_crawler(get_crawler())
    request = Request(URL, meta={"own_domains": ["127.0.0.1:8080"]})
    return middleware.process_response(request, response)


@pytest.mark.parametrize(
    ("head", "encoding", "declared"),
    [
        (REFRESH, "utf-8", "utf-8"),
        # 1,000 Cyrillic letters (2,000 bytes) and more before it: found within Scrapy's 4,096
        # characters although past the 4,096th byte
        ("<meta name='description' content='" + "ж" * 3000 + "'>" + REFRESH, "utf-8", "utf-8"),
        (REFRESH.upper().replace("/2026/12/01/MOVED", "/2026/12/01/moved"), "utf-8", "utf-8"),
        (REFRESH, "utf-16", "utf-16"),  # NUL bytes between the letters: left to Scrapy
    ],
)
def test_a_refresh_scrapy_finds_is_followed(head: str, encoding: str, declared: str) -> None:
    result = process(respond(head, encoding, declared))
    assert isinstance(result, Request)
    assert result.url == "http://127.0.0.1:8080/2026/12/01/moved"


def test_a_page_without_refresh_passes_undecoded() -> None:
    response = respond('<meta name="description" content="no redirect here">')
    assert process(response) is response
    assert response._cached_ubody is None  # Scrapy never decoded it


def test_may_refresh() -> None:
    assert _may_refresh(b"<html><head>" + REFRESH.encode())
    assert not _may_refresh(b"<html><head><title>x</title></head>")
    assert not _may_refresh(b"<html><head>" + b"x" * 20000 + REFRESH.encode())  # past Scrapy's scan
    assert _may_refresh("<html>".encode("utf-16"))
