"""Discovery parsers on real saved homepages and hand-made feeds and sitemaps.

Homepages: tests/fixtures/homepages/ (real pages saved around 2018, see SOURCE.md).
Feeds and sitemaps: tests/fixtures/discovery/ (hand-made, see README.md there).
"""

from __future__ import annotations

import gzip
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from balkanwatch.analysis.discovery import (
    MAX_SITEMAP_BYTES,
    DiscoveryError,
    Link,
    Sitemap,
    autodiscover_feeds,
    is_article_url,
    parse_feed,
    parse_sitemap,
    robots_sitemaps,
    scan_article_links,
)
from balkanwatch.analysis.urls import is_own_domain

FIXTURES = Path(__file__).parent / "fixtures"
HOMEPAGES = FIXTURES / "homepages"
DISCOVERY = FIXTURES / "discovery"
OUTLETS_YAML = Path(__file__).parent.parent / "config" / "outlets.yaml"


def fixture(name: str) -> bytes:
    return (DISCOVERY / name).read_bytes()


def homepage(name: str) -> bytes:
    return (HOMEPAGES / name).read_bytes()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- feeds ---------------------------------------------------------------------------


def test_rss20_links_titles_dates() -> None:
    links = parse_feed(fixture("rss20.xml"), "https://prishtinainsight.com/feed/")
    assert links == [
        Link(
            # the feed's own URL, tracking and all: canonicalising is the caller's step
            "https://prishtinainsight.com/kfor-increases-patrols-north/?utm_source=rss&utm_medium=rss",
            "KFOR increases patrols in the north after Banjska incident",
            utc(2024, 5, 17, 9, 15),  # +0200 converted to UTC
        ),
        Link(
            # a relative link made absolute, an escaped HTML title made plain text
            "https://prishtinainsight.com/kurti-vucic-brussels-dialogue/",
            "Kurti & Vučić meet in Brussels",
            utc(2024, 5, 16, 18, 0),
        ),
        # no <link>, but a permalink guid; the guid-less item is dropped, and so is
        # the repeated one
        Link(
            "https://prishtinainsight.com/guid-only-item/",
            "Item with a permalink guid and no link",
        ),
    ]


def test_rss10_rdf() -> None:
    links = parse_feed(fixture("rdf.xml"), "https://www.example-agency.rs/rss")
    assert [(link.url, link.published) for link in links] == [
        (
            "https://www.example-agency.rs/vesti/politika/1234567/beograd-pristina-dijalog",
            utc(2024, 5, 17, 6, 30),
        ),
        ("https://www.example-agency.rs/vesti/svet/1234568/nato-samit", utc(2024, 5, 16, 22, 5)),
    ]
    assert links[0].title == "Dijalog Beograda i Prištine nastavljen u Briselu"


def test_atom_resolves_xml_base_and_prefers_published() -> None:
    links = parse_feed(fixture("atom.xml"), "https://www.koha.net/rss")
    assert links == [
        Link(
            "https://www.koha.net/arberi/412345/kurti-takon-komandantin-e-kfor-it/",
            "Kurti takon komandantin e KFOR-it",
            utc(2024, 5, 17, 7, 45),  # <published>, not <updated>
        ),
        Link(
            "https://www.koha.net/bote/412300/lajm-pa-date/",
            "Lajm pa datë publikimi",
            utc(2024, 5, 16, 23, 59, 59),  # only <updated>
        ),
    ]


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("rss_windows1251.xml", "Косово: КФОР појачао патроле на северу"),
        # š and ž sit at different bytes in the two encodings: a wrong guess shows
        ("rss_windows1250.xml", "Đaci iz Šibenika i Čapljine: žurba, ćorsokak"),
        ("rss_iso8859_2.xml", "Đaci iz Šibenika i Čapljine: žurba, ćorsokak"),
        ("rss_utf8_bom.xml", "Приштина и Београд: нови круг разговора о Косову"),
    ],
)
def test_feed_encodings_from_declaration_or_bom(name: str, title: str) -> None:
    [link] = parse_feed(fixture(name), "https://example.org/feed/")
    assert link.title == title
    assert link.published == utc(2024, 5, 17, 8, 0)


def test_not_well_formed_feed_with_entries_is_read_leniently() -> None:
    [link] = parse_feed(
        fixture("unescaped_ampersand_feed.xml"), "https://www.gazetaexpress.com/feed/"
    )
    assert link.url == "https://www.gazetaexpress.com/kosova-shqiperia-nenshkruajne-marreveshje/"
    assert link.title == "Kosova & Shqipëria nënshkruajnë marrëveshje"


def test_valid_feed_without_items_is_empty_not_an_error() -> None:
    assert parse_feed(fixture("empty_rss.xml"), "https://example.org/feed/") == []


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(fixture("html_as_feed.html"), id="html-error-page"),
        pytest.param(fixture("malformed_feed.xml"), id="truncated-rss"),
        pytest.param(fixture("sitemap_news.xml"), id="sitemap-served-as-feed"),
        pytest.param(fixture("sitemap_urlset.xml.gz"), id="gzip-bytes"),
        pytest.param(b"", id="empty"),
        pytest.param(
            b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><body/></html>',
            id="well-formed-xhtml",
        ),
        # bodies that feedparser would open as a URL or a file if given as a string
        pytest.param(b"https://example.org/feed/", id="looks-like-url"),
        pytest.param(b"/etc/hostname", id="looks-like-path"),
    ],
)
def test_non_feeds_raise(body: bytes) -> None:
    with pytest.raises(DiscoveryError):
        parse_feed(body, "https://example.org/feed/")


# --- sitemaps ------------------------------------------------------------------------

URLSET_LINKS = [
    Link("https://telegrafi.com/vuciq-nuk-ka-zgjidhje-per-kosoven/", None, utc(2024, 5, 17, 8, 15)),
    Link("https://telegrafi.com/kfor-rrit-patrullimet-ne-veri/", None, utc(2024, 5, 16)),
    Link("https://telegrafi.com/lajm-pa-date/"),
    Link("https://telegrafi.com/data-e-gabuar/"),  # unreadable lastmod: kept, undated
    # ftp: loc and the <url> without <loc> are dropped
]


@pytest.mark.parametrize("name", ["sitemap_urlset.xml", "sitemap_urlset.xml.gz"])
def test_urlset_plain_and_gzipped(name: str) -> None:
    assert parse_sitemap(fixture(name)) == Sitemap(kind="urlset", links=URLSET_LINKS)


def test_sitemap_index_lists_children_with_lastmod() -> None:
    sitemap = parse_sitemap(fixture("sitemap_index.xml"))  # blank line before <?xml
    assert sitemap.kind == "sitemapindex"
    assert sitemap.links == [
        Link("https://www.balkanweb.com/post-sitemap612.xml", None, utc(2024, 5, 17, 8, 1, 22)),
        Link("https://www.balkanweb.com/post-sitemap611.xml", None, utc(2024, 5, 10, 19, 44, 3)),
        Link("https://www.balkanweb.com/page-sitemap.xml"),
    ]


def test_news_sitemap_title_and_publication_date() -> None:
    sitemap = parse_sitemap(fixture("sitemap_news.xml"))
    assert sitemap.kind == "urlset"
    assert sitemap.links == [
        Link(
            "https://n1info.rs/vesti/kfor-pojacao-prisustvo-na-severu-kosova/",
            "KFOR pojačao prisustvo na severu Kosova",
            utc(2024, 5, 17, 7, 30),  # publication_date wins over the later lastmod
        ),
        Link(
            "https://n1info.rs/svet/nato-samit-u-vasingtonu/",
            "NATO samit u Vašingtonu & Zapadni Balkan",
            utc(2024, 5, 16),
        ),
    ]


def test_sitemap_without_namespace_is_read() -> None:
    body = b"<urlset><url><loc>https://klix.ba/vijesti/a-240517001</loc></url></urlset>"
    assert parse_sitemap(body).links == [Link("https://klix.ba/vijesti/a-240517001")]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(fixture("sitemap_malformed.xml"), "malformed", id="truncated"),
        pytest.param(fixture("html_as_feed.html"), "malformed", id="html"),
        pytest.param(fixture("rss20.xml"), "root element <rss>", id="rss-served-as-sitemap"),
        pytest.param(fixture("sitemap_xxe.xml"), "DOCTYPE", id="external-entity"),
        pytest.param(fixture("sitemap_urlset.xml.gz")[:-20], "gzip", id="truncated-gzip"),
        pytest.param(b"\x1f\x8bnot gzip at all", "gzip", id="corrupt-gzip"),
        pytest.param(b"", "malformed", id="empty"),
    ],
)
def test_bad_sitemaps_raise(body: bytes, message: str) -> None:
    with pytest.raises(DiscoveryError, match=message):
        parse_sitemap(body)


def test_gzip_bomb_is_refused_without_inflating_it() -> None:
    bomb = gzip.compress(b"<urlset>" + b" " * (MAX_SITEMAP_BYTES + 10), mtime=0)
    assert len(bomb) < 100_000
    with pytest.raises(DiscoveryError, match="expands beyond"):
        parse_sitemap(bomb)


# --- robots.txt ----------------------------------------------------------------------


def test_robots_sitemaps() -> None:
    robots = (
        "\ufeffUser-agent: *\r\n"
        "Disallow: /wp-admin/\r\n"
        "Sitemap: https://www.danas.rs/sitemap_index.xml   # main index\r\n"
        "\r\n"
        "User-agent: Googlebot-News\r\n"
        "sitemap:/news-sitemap.xml\r\n"  # relative, lower-case, no space
        "SITEMAP : https://www.danas.rs/sitemap_index.xml\r\n"  # repeated
        "# Sitemap: https://www.danas.rs/commented-out.xml\r\n"
        "Sitemap:\r\n"
        "Sitemap: ftp://www.danas.rs/sitemap.xml\r\n"
    )
    assert robots_sitemaps(robots, "https://www.danas.rs/robots.txt") == [
        "https://www.danas.rs/sitemap_index.xml",
        "https://www.danas.rs/news-sitemap.xml",
    ]


def test_robots_without_sitemaps() -> None:
    assert robots_sitemaps("User-agent: *\nDisallow: /\n", "https://balkaninsight.com/") == []


# --- feed autodiscovery --------------------------------------------------------------


def test_autodiscovery_on_real_pangea_homepage() -> None:
    feeds = autodiscover_feeds(homepage("evropaelire.org.html"), "https://www.evropaelire.org/")
    # <link rel="sitemap" type="application/rss+xml" href="/sitemap.xml"> is no feed
    assert feeds == ["https://www.evropaelire.org/api/"]


@pytest.mark.parametrize(
    "name", ["telegrafi.com.html", "koha.net.html"]
)  # oEmbed alternates are not feeds
def test_autodiscovery_finds_nothing_where_nothing_is_announced(name: str) -> None:
    base = "https://" + name.removesuffix(".html") + "/"
    assert autodiscover_feeds(homepage(name), base) == []


def test_autodiscovery_types_rels_base_and_comment_feeds() -> None:
    page = """<html><head>
      <base href="https://kossev.info/en/">
      <link rel="alternate" type="application/rss+xml" title="Feed" href="feed/">
      <link rel="ALTERNATE home" type="application/atom+xml; charset=utf-8" href="/atom.xml">
      <link rel="alternate" type="application/rss+xml" title="Comments" href="/comments/feed/">
      <link rel="alternate" type="application/rss+xml" href="/?feed=comments-rss2">
      <link rel="alternate" type="application/json+oembed" href="/wp-json/oembed">
      <link rel="alternate" hreflang="sr" href="https://kossev.info/">
      <link rel="stylesheet" type="application/rss+xml" href="/not-alternate.xml">
      <link rel="alternate" type="application/rss+xml" href="feed/">
    </head><body></body></html>"""
    assert autodiscover_feeds(page, "https://kossev.info/en/some-article/") == [
        "https://kossev.info/en/feed/",
        "https://kossev.info/atom.xml",
    ]


@pytest.mark.parametrize("page", [b"", "   ", b"\x00\x01binary"])
def test_autodiscovery_on_empty_or_junk_pages(page: bytes | str) -> None:
    assert autodiscover_feeds(page, "https://example.org/") == []


# --- homepage link scanning on real pages --------------------------------------------


def scan(name: str, base: str, domains: list[str], pattern: str | None = None) -> list[Link]:
    return scan_article_links(homepage(name), base, domains, pattern)


def test_scan_evropaelire_pangea_articles() -> None:
    links = scan("evropaelire.org.html", "https://www.evropaelire.org/", ["evropaelire.org"])
    urls = [link.url for link in links]
    titles = {link.url: link.title for link in links}
    assert len(urls) == len(set(urls)) == 81
    assert all(re.search(r"/a/(?:[^/]+/)?\d+\.html$", url) for url in urls)
    # the heading anchor's text wins over the image anchor's title attribute
    url = "https://www.evropaelire.org/a/ligji-per-shqipen-nxjerr-ne-siperfaqe-dallimet-etnike-ne-maqedoni-/29105541.html"
    assert titles[url] == "Ligji për shqipen nxjerr në sipërfaqe dallimet etnike në Maqedoni"
    # an image-only anchor falls back to its title attribute
    assert titles["https://www.evropaelire.org/a/29096291.html"] == (
        "Hava Muhaxheri - shoferja e parë e autobusit në Kosovë"
    )
    for navigation in (
        "https://www.evropaelire.org/",
        "https://www.evropaelire.org/z/704",  # a zone (section)
        "https://www.evropaelire.org/z/16983",
        "https://www.evropaelire.org/p/5974.html",  # a static page
        "https://www.evropaelire.org/s",
        "https://www.evropaelire.org/rssfeeds",
        "https://www.evropaelire.org/navigation/allsites",
        "https://www.evropaelire.mobi/rss.html?tab=Rss",  # another domain
    ):
        assert navigation not in urls


def test_scan_telegrafi_slugs_versus_categories() -> None:
    links = scan("telegrafi.com.html", "https://telegrafi.com/", ["telegrafi.com"])
    urls = [link.url for link in links]
    assert urls[:3] == [
        "https://telegrafi.com/vuciq-shqetesuar-renien-e-natalitetit-ne-po-zhdukemi-shqiptaret-ne-kosove-po-shtohen/",
        "https://telegrafi.com/hoxhaj-ndryshimi-kufijve-ne-ballkan-hap-kutine-e-pandores/",
        "https://telegrafi.com/vuciq-nuk-ka-zgjidhje-per-kosoven-nese-prishtina-nuk-ben-kompromis/",
    ]
    assert "https://telegrafi.com/pa-kompromis-si-rovena/" in urls  # four words, short
    # percent-encoding normalised (a zero-width space at the end of the slug)
    assert (
        "https://telegrafi.com/nje-perfaqesues-permanent-ministrise-se-diaspores-se-shpejti-ne-berlin%E2%80%8B/"
        in urls
    )
    assert not [url for url in urls if "/category/" in url or "/tag/" in url]
    for navigation in (
        "https://telegrafi.com/",
        "https://telegrafi.com/lajme/",
        "https://telegrafi.com/sport/livescore/",
        "https://telegrafi.com/arkiva/",
        "https://telegrafi.com/ekipet/paris-saint-germain/",  # three-word team page
        "https://telegrafi.com/horoskopi/akrepi/",
        "https://telegrafi.com/privacy-policy/",
        "https://puna.telegrafi.com/",  # own subdomain, but its homepage
    ):
        assert navigation not in urls
    assert 100 <= len(urls) <= 115


def test_scan_koha_undated_articles_with_ids() -> None:
    assert b"\r\n" in homepage("koha.net.html")  # the saved page has CRLF line ends
    links = scan("koha.net.html", "https://www.koha.net/", ["koha.net"])
    titles = {link.url: link.title for link in links}
    # a heading inside the anchor is the title, without the section label beside it
    assert titles["https://www.koha.net/bote/81611/rusia-debon-23-diplomate-britanike/"] == (
        "Rusia dëbon 23 diplomatë britanikë"
    )
    assert titles["https://www.koha.net/veshtrime/81464/njehere-si-farse-pastaj-si-komedi/"] == (
        "Njëherë si farsë, pastaj si komedi"
    )
    assert all(re.search(r"koha\.net/[a-z-]+/\d{5}/", url) for url in titles)
    for navigation in (
        "https://www.koha.net/lajme/",
        "https://www.koha.net/arkivi/",
        "https://www.koha.net/te-gjitha",
        "https://www.koha.net/recetat-e-lindes/",
        "http://www.koha.net/arta-tv/",
        "https://www.koha.net/kontakt",
        "https://online.koha.net/",
    ):
        assert navigation not in titles
    assert len(titles) == 107


def test_scan_with_article_pattern() -> None:
    links = scan("koha.net.html", "https://www.koha.net/", ["koha.net"], pattern=r"/arberi/\d+/")
    assert links
    assert all("/arberi/" in link.url for link in links)
    assert links[0].url == (
        "https://www.koha.net/arberi/81607/thyerja-e-madhe-ne-lvv-kryeteme-e-se-dieles-ne-koha-ditore/"
    )


def test_scan_accepts_str_and_bytes_alike() -> None:
    raw = homepage("koha.net.html")
    as_str = scan_article_links(raw.decode("utf-8"), "https://www.koha.net/", ["koha.net"])
    assert as_str == scan("koha.net.html", "https://www.koha.net/", ["koha.net"])


def test_scan_decodes_a_legacy_encoded_page() -> None:
    page = (
        '<html><head><meta charset="windows-1250"></head><body>'
        '<a href="/vijesti/hrvatska/zupanija-trazi-novi-most-preko-save/">'
        "Županija traži novi most</a>"
        "</body></html>"
    ).encode("cp1250")
    [link] = scan_article_links(page, "https://www.example.hr/", ["example.hr"])
    assert link.title == "Županija traži novi most"


def test_scan_dedups_canonical_variants_and_keeps_page_order() -> None:
    page = """
      <a href="https://n1info.rs/vesti/kfor-pojacao-prisustvo-na-severu-kosova/?utm_source=home">
        <img src="x.jpg" alt="Foto: KFOR"></a>
      <a href="/vesti/drugi-clanak-o-dijalogu-beograda-i-pristine/">Drugi</a>
      <a href="https://n1info.rs/vesti/kfor-pojacao-prisustvo-na-severu-kosova/amp/"
        >KFOR pojačao prisustvo</a>
      <a href="https://m.n1info.rs/vesti/kfor-pojacao-prisustvo-na-severu-kosova/">Read more</a>
      <a href="https://www.facebook.com/sharer.php?u=https://n1info.rs/vesti/kfor-pojacao-prisustvo-na-severu-kosova/">f</a>
      <a href="javascript:void(0)">x</a><a href="#top">top</a><a>no href</a>
      <a href="/wp-content/uploads/2024/05/17/kfor-patrola-na-severu-kosova.jpg">photo</a>
    """
    links = scan_article_links(page, "https://n1info.rs/", ["n1info.rs"])
    assert links == [
        Link(
            "https://n1info.rs/vesti/kfor-pojacao-prisustvo-na-severu-kosova/",
            "KFOR pojačao prisustvo",  # anchor text beats the earlier image alt
        ),
        Link("https://n1info.rs/vesti/drugi-clanak-o-dijalogu-beograda-i-pristine/", "Drugi"),
        # m.n1info.rs maps to www.n1info.rs: a different canonical URL, kept
        Link("https://www.n1info.rs/vesti/kfor-pojacao-prisustvo-na-severu-kosova/", "Read more"),
    ]


@pytest.mark.parametrize("page", [b"", "<html></html>", "<p>no links</p>"])
def test_scan_on_pages_without_links(page: bytes | str) -> None:
    assert scan_article_links(page, "https://example.org/", ["example.org"]) == []


ARTICLE_URL_CASES = [
    # (url, is an article)
    ("https://balkaninsight.com/2024/05/17/kfor-boosts-patrols/", True),
    ("https://balkaninsight.com/2024/05/kfor-boosts-patrols/", True),
    ("https://www.example.org/2024-05-17-kfor-boosts-patrols", True),
    ("https://balkaninsight.com/2024/05/17/", False),  # daily archive
    ("https://balkaninsight.com/2024/05/", False),
    ("https://balkaninsight.com/2024/", False),
    ("https://www.koha.net/arberi/81640/djalit-te-prokurores/", True),
    ("https://www.evropaelire.org/a/29075949.html", True),
    ("https://www.evropaelire.org/a/slug/29104034.html", True),
    ("https://www.klix.ba/vijesti/bih/clanak/240517012", True),  # long trailing id
    ("https://www.example.rs/vesti/politika/naslov-clanka-5412345", True),  # slug-id
    ("https://www.example.rs/5412345-naslov-clanka", True),  # id-slug
    ("https://www.rtklive.com/sq/news-single.php?ID=123456", True),
    ("https://www.b92.net/info/vesti/index.php?nav_id=2468101", True),
    ("https://example.org/?p=41234", True),  # WordPress shortlink
    ("https://telegrafi.com/vuciq-nuk-ka-zgjidhje-per-kosoven/", True),
    ("https://www.rts.rs/вести/косово-и-метохија-нови-инцидент-на-северу", True),
    ("https://www.evropaelire.org/z/16983", False),
    ("https://www.evropaelire.org/p/5974.html", False),
    ("https://telegrafi.com/category/lajme/kosove/", False),
    ("https://telegrafi.com/tag/dialogu-kosove-serbi-ne-bruksel/", False),
    ("https://kossev.info/author/redakcija-kossev-portala/", False),
    ("https://n1info.rs/page/2/", False),
    ("https://example.org/kategorija/vijesti-iz-bosne-i-hercegovine/", False),
    ("https://example.org/2024/05/17/feed/", False),
    ("https://example.org/wp-login.php?redirect_to=x", False),
    ("https://example.org/search/kosovo-nato-kfor-patrols", False),
    ("https://example.org/?s=kosovo+nato+kfor+patrols", False),
    ("https://example.org/kfor-boosts-patrols-in-north/?share=twitter", False),
    ("https://www.koha.net/recetat-e-lindes/", False),  # three-word section
    ("https://www.koha.net/lajme", False),
    ("https://example.org/", False),
    ("https://example.org", False),
]


@pytest.mark.parametrize(("url", "expected"), ARTICLE_URL_CASES)
def test_is_article_url(url: str, expected: bool) -> None:
    assert is_article_url(url) is expected


def test_scan_rejects_assets_even_when_they_match_the_pattern() -> None:
    page = '<a href="/2024/05/17/photo.jpg">x</a><a href="/2024/05/17/story/">y</a>'
    links = scan_article_links(page, "https://example.org/", ["example.org"], r"/20\d\d/")
    assert [link.url for link in links] == ["https://example.org/2024/05/17/story/"]


# --- the shipped outlet list ---------------------------------------------------------


def shipped_outlets() -> list[dict[str, object]]:
    return yaml.safe_load(OUTLETS_YAML.read_text(encoding="utf-8"))["outlets"]


def test_outlets_feeds_and_sitemaps_are_on_their_own_domains() -> None:
    # catches typos such as the "prishtina-insight.com" seen in one public list
    for outlet in shipped_outlets():
        domains = [outlet["homepage"], *outlet.get("domains", [])]
        for url in [*outlet.get("feeds", []), *outlet.get("sitemaps", [])]:
            assert is_own_domain(url, domains), (outlet["name"], url)


def test_outlets_patterns_compile_and_the_list_covers_the_region() -> None:
    outlets = shipped_outlets()
    names = [outlet["name"] for outlet in outlets]
    assert len(names) == len(set(names)) >= 25
    assert {"XK", "AL", "RS", "MK", "BA", "ME", "HR", "regional"} <= {o["country"] for o in outlets}
    assert {"sq", "sr", "mk", "bs", "hr", "en"} <= {o["language"] for o in outlets}
    for outlet in outlets:
        if "article_pattern" in outlet:
            re.compile(outlet["article_pattern"])


@pytest.mark.parametrize(
    ("name", "fixture_name", "count"),
    [("evropaelire", "evropaelire.org.html", 81), ("koha", "koha.net.html", 107)],
)
def test_shipped_patterns_find_articles_on_the_saved_homepages(
    name: str, fixture_name: str, count: int
) -> None:
    outlet = next(o for o in shipped_outlets() if o["name"] == name)
    links = scan(fixture_name, outlet["homepage"], [outlet["homepage"]], outlet["article_pattern"])
    assert len(links) == count
