"""Canonical URLs: every variant of one article collapses to one URL, nothing else does."""

from __future__ import annotations

import pytest

from balkanwatch.analysis.urls import (
    TRACKING_PARAMS,
    canonical_url,
    is_own_domain,
    registered_domain,
    same_origin,
)

CANONICAL_CASES = [
    # (input, expected canonical URL)
    # case, default ports, fragments
    ("HTTPS://WWW.Koha.NET/arberi/1/x/", "https://www.koha.net/arberi/1/x/"),
    ("https://www.koha.net:443/arberi/1/x/", "https://www.koha.net/arberi/1/x/"),
    ("http://www.koha.net:80/arberi/1/x/", "http://www.koha.net/arberi/1/x/"),
    ("https://www.koha.net:8443/a", "https://www.koha.net:8443/a"),  # a real port stays
    ("https://telegrafi.com/slug/#comments", "https://telegrafi.com/slug/"),
    ("https://telegrafi.com", "https://telegrafi.com/"),
    ("  https://telegrafi.com/slug/\n", "https://telegrafi.com/slug/"),
    # tracking parameters, by name and by prefix, any case
    ("https://n1info.rs/vesti/a/?utm_source=rss&utm_medium=rss", "https://n1info.rs/vesti/a/"),
    ("https://n1info.rs/vesti/a/?UTM_Campaign=x&fbclid=IwAR0", "https://n1info.rs/vesti/a/"),
    ("https://n1info.rs/a/?gclid=1&dclid=2&msclkid=3&yclid=4", "https://n1info.rs/a/"),
    ("https://n1info.rs/a/?mc_cid=1&mc_eid=2&igshid=3&_ga=4", "https://n1info.rs/a/"),
    ("https://n1info.rs/a/?ref_src=twsrc%5Etfw&pk_campaign=x", "https://n1info.rs/a/"),
    # other parameters stay, sorted, blank values kept
    (
        "https://www.b92.net/index.php?yyyy=2024&nav_id=123",
        "https://www.b92.net/index.php?nav_id=123&yyyy=2024",
    ),
    (
        "https://www.b92.net/index.php?utm_term=z&nav_id=123",
        "https://www.b92.net/index.php?nav_id=123",
    ),
    ("https://example.org/search?q=a&b=", "https://example.org/search?b=&q=a"),
    # percent-encoding: unreserved characters decoded, escapes upper-cased,
    # non-ASCII paths encoded as UTF-8, legacy bytes left as they are
    ("https://example.org/%7Eautor/%e2%82%ac", "https://example.org/~autor/%E2%82%AC"),
    (
        "https://www.rts.rs/вести/косово",
        "https://www.rts.rs/%D0%B2%D0%B5%D1%81%D1%82%D0%B8/%D0%BA%D0%BE%D1%81%D0%BE%D0%B2%D0%BE",
    ),
    ("https://example.hr/trazi?q=%E8", "https://example.hr/trazi?q=%E8"),
    ("https://example.org/a/./b/../c", "https://example.org/a/c"),
    # AMP variants
    (
        "https://balkaninsight.com/2024/05/17/slug/amp/",
        "https://balkaninsight.com/2024/05/17/slug/",
    ),
    (
        "https://www.evropaelire.org/amp/slug/32123456.html",
        "https://www.evropaelire.org/slug/32123456.html",
    ),
    ("https://telegrafi.com/slug/?amp=1", "https://telegrafi.com/slug/"),
    ("https://telegrafi.com/slug/?amp", "https://telegrafi.com/slug/"),
    ("https://example.org/story?outputType=amp&id=7", "https://example.org/story?id=7"),
    ("https://example.org/story?outputType=html", "https://example.org/story?outputType=html"),
    ("https://example.org/vijesti/story.amp.html", "https://example.org/vijesti/story.html"),
    ("https://amp.example.org/story/", "https://www.example.org/story/"),
    # mobile hosts
    ("https://m.b92.net/info/vesti/a", "https://www.b92.net/info/vesti/a"),
    ("https://mobile.example.org/a", "https://www.example.org/a"),
    ("https://m.sport.blic.rs/a", "https://sport.blic.rs/a"),
    # look-alikes that are no variants
    ("https://example.org/amplifier/", "https://example.org/amplifier/"),
    ("https://mk.telegrafi.com/a", "https://mk.telegrafi.com/a"),
    ("https://amp.rs/a", "https://amp.rs/a"),  # the registrable domain itself
    # trailing slash as the site writes it
    ("https://www.koha.net/lajme", "https://www.koha.net/lajme"),
    ("https://www.koha.net/lajme/", "https://www.koha.net/lajme/"),
    # not HTTP: returned as given
    ("mailto:info@koha.net", "mailto:info@koha.net"),
]


@pytest.mark.parametrize(("url", "expected"), CANONICAL_CASES)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_query_order_and_tracking_do_not_matter() -> None:
    a = canonical_url("https://www.b92.net/info/vesti/index.php?nav_id=123&yyyy=2024")
    b = canonical_url("https://www.b92.net/info/vesti/index.php?yyyy=2024&nav_id=123&utm_term=z")
    assert a == b == "https://www.b92.net/info/vesti/index.php?nav_id=123&yyyy=2024"


@pytest.mark.parametrize(("url", "_"), CANONICAL_CASES)
def test_canonical_url_is_idempotent(url: str, _: str) -> None:
    once = canonical_url(url)
    assert canonical_url(once) == once


@pytest.mark.parametrize(
    ("url", "main_host", "expected"),
    [
        ("https://m.telegrafi.com/slug/", "telegrafi.com", "https://telegrafi.com/slug/"),
        ("https://amp.koha.net/a/", "https://www.koha.net/", "https://www.koha.net/a/"),
        # a main host of another site is ignored
        ("https://m.b92.net/a", "telegrafi.com", "https://www.b92.net/a"),
    ],
)
def test_mobile_host_maps_to_the_outlets_main_host(url: str, main_host: str, expected: str) -> None:
    assert canonical_url(url, main_host=main_host) == expected


def test_all_variants_of_one_article_collapse() -> None:
    variants = [
        "https://balkaninsight.com/2024/05/17/kfor-patrols/",
        "https://balkaninsight.com/2024/05/17/kfor-patrols/?utm_source=newsletter&utm_medium=email",
        "https://balkaninsight.com/2024/05/17/kfor-patrols/amp/",
        "https://balkaninsight.com/2024/05/17/kfor-patrols/?amp=1#top",
        "HTTPS://BalkanInsight.com:443/2024/05/17/kfor-patrols/?fbclid=IwAR2",
    ]
    assert {canonical_url(v) for v in variants} == {variants[0]}


def test_tracking_params_cover_the_usual_click_ids() -> None:
    for name in ("fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid", "_ga"):
        assert name in TRACKING_PARAMS
    # keys that carry an article's identity must never be listed
    for name in ("id", "p", "nav_id", "q", "page_id", "article"):
        assert name not in TRACKING_PARAMS


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.koha.net/arberi/1/", "koha.net"),
        ("www.koha.net", "koha.net"),
        ("puna.telegrafi.com", "telegrafi.com"),
        ("https://news.bbc.co.uk/x", "bbc.co.uk"),
        ("https://www.mod.gov.rs/", "mod.gov.rs"),  # gov.rs is a public suffix
        ("https://n1info.ba/", "n1info.ba"),
        ("HTTPS://WWW.KLIX.BA./rss", "klix.ba"),
        ("http://127.0.0.1:8000/feed", "127.0.0.1"),
        ("localhost:8080", "localhost"),
        ("", ""),
    ],
)
def test_registered_domain(url: str, expected: str) -> None:
    assert registered_domain(url) == expected


@pytest.mark.parametrize(
    ("url", "domains", "expected"),
    [
        ("https://telegrafi.com/slug/", ["telegrafi.com"], True),
        ("https://puna.telegrafi.com/", ["https://telegrafi.com/"], True),
        ("https://www.koha.net/a/", ["koha.net"], True),
        ("https://insajderi.com/a/", ["insajderi.org", "insajderi.com"], True),
        ("https://telegrafi.com.evil.example/", ["telegrafi.com"], False),
        ("https://nottelegrafi.com/", ["telegrafi.com"], False),
        ("https://www.facebook.com/telegrafi.com", ["telegrafi.com"], False),
        ("https://www.evropaelire.mobi/rss.html", ["evropaelire.org"], False),
        # host and port are the origin; 80 and 443 are http and https of one site
        ("http://127.0.0.1:8000/a", ["127.0.0.1:8000"], True),
        ("http://127.0.0.1:8000/a", ["http://127.0.0.1:8000/"], True),
        ("http://127.0.0.1:8001/a", ["127.0.0.1:8000"], False),
        ("http://127.0.0.1:8000/a", ["127.0.0.1"], False),
        ("http://127.0.0.1/a", ["127.0.0.1:8000"], False),
        ("https://www.koha.net:443/a", ["koha.net"], True),
        ("http://www.koha.net:80/a", ["https://www.koha.net/"], True),
        ("https://koha.net:8443/a", ["koha.net"], False),
        ("https://news.koha.net:8443/a", ["koha.net:8443"], True),
        ("mailto:info@koha.net", ["koha.net"], False),
        ("https://koha.net/", [], False),
        ("https://koha.net/", [""], False),
    ],
)
def test_is_own_domain(url: str, domains: list[str], expected: bool) -> None:
    assert is_own_domain(url, domains) is expected


@pytest.mark.parametrize(
    ("url", "other", "expected"),
    [
        ("https://feeds.example.com/a", "http://feeds.example.com/b", True),
        ("https://feeds.example.com:8443/a", "https://feeds.example.com/b", False),
        ("https://www.example.com/a", "https://feeds.example.com/b", False),
        ("mailto:x@example.com", "https://example.com/", False),
    ],
)
def test_same_origin(url: str, other: str, expected: bool) -> None:
    assert same_origin(url, other) is expected
