"""Redirects stay on the outlet: Scrapy's redirect middlewares, refusing to leave its origin.

Scrapy follows a redirect wherever it points, and a redirected request keeps `dont_filter`, so
the offsite filter never sees a feed (or any source) that moved to another host. An outlet's
requests carry its own domains in `meta["own_domains"]` (host and port, see
`balkanwatch.analysis.urls.is_own_domain`); a redirect elsewhere is not followed but fails the
request with `OffsiteRedirect`, whose message the spider records as the reason. The host the
request was sent to stays allowed (a feed configured on a feed service may redirect within it).
"""

from __future__ import annotations

from scrapy import Request, Spider
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware, RedirectMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response

from balkanwatch.analysis.urls import is_own_domain, same_origin


class OffsiteRedirect(IgnoreRequest):
    """A redirect away from the outlet's own origins, not followed."""


def check_redirect(redirected: Request, request: Request) -> None:
    """Raise OffsiteRedirect unless `redirected` stays on the outlet or on the first URL's
    origin; requests without `own_domains` (robots.txt) are Scrapy's business."""
    domains = request.meta.get("own_domains")
    if domains is None:
        return
    first = (request.meta.get("redirect_urls") or [request.url])[0]
    target = redirected.url
    if is_own_domain(target, domains) or same_origin(target, first):
        return
    raise OffsiteRedirect(f"redirected to another site, not followed: {target}")


def _checked(request: Request, result: Request | Response) -> Request | Response:
    if isinstance(result, Request) and result is not request:
        check_redirect(result, request)
    return result


# process_response, not Scrapy's private _redirect: its signature changed between releases.
# `spider` is passed on only where Scrapy passes it (before 2.14).


class OwnOriginRedirectMiddleware(RedirectMiddleware):
    def process_response(  # type: ignore[override]
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        args = () if spider is None else (spider,)
        return _checked(request, super().process_response(request, response, *args))


class OwnOriginMetaRefreshMiddleware(MetaRefreshMiddleware):
    def process_response(  # type: ignore[override]
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        if not _may_refresh(response.body):
            return response
        args = () if spider is None else (spider,)
        return _checked(request, super().process_response(request, response, *args))


# Scrapy looks for <meta http-equiv="refresh"> in the first 4096 characters of the decoded page:
# at most this many bytes in any ASCII-compatible encoding.
_REFRESH_SCAN = 4 * 4096


def _may_refresh(body: bytes) -> bool:
    """False when the page cannot declare a meta refresh where Scrapy looks for one. Scrapy
    decodes the whole page to look (and keeps the text, several times the page's size, while
    the page waits for extraction); most pages have no "refresh" in their first bytes at all.
    UTF-16 and UTF-32 pages (NUL bytes between letters) are left to Scrapy."""
    head = body[:_REFRESH_SCAN]
    return b"\x00" in head or b"refresh" in head.lower()
