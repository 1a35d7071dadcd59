"""Every way of discovering articles, through the one `outlets` spider, against fixture outlets.

Each discovery mode is an outlet of its own on its own 127.0.0.x address (RSS 2.0, RSS 1.0/RDF,
Atom, sitemap index, Google News sitemap, plain sitemap, robots.txt `Sitemap:` lines, feed
autodiscovery, homepage links by pattern and by heuristic), with more outlets for canonical URLs,
age limits and encodings. All of them run in the same three `scrapy crawl outlets` subprocesses
(a crawl costs ~3 s): a first crawl, an unchanged second crawl, and a backfill. The servers log
every request, so "never fetched again" is counted where it happens.

The real homepages are tests/fixtures/homepages/ (see SOURCE.md there), served with their links
rewritten to the fixture host.
"""

from __future__ import annotations

import codecs
import os
import re
import sqlite3
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from scrapy.resolver import CachingThreadedResolver
from twisted.internet import defer

from tests.support import FIXTURES, FixtureSite, article_page, crawl, write_config

NOW = datetime.now(UTC)
HOMEPAGES = FIXTURES / "homepages"


# --- a resolver for fixture host names -------------------------------------------------------


class FixtureHostsResolver(CachingThreadedResolver):
    """`-s DNS_RESOLVER=tests.test_discovery_crawl.FixtureHostsResolver`: the names listed in
    $BW_FIXTURE_HOSTS (`name=address,...`) resolve to fixture servers, any other as usual.
    Mobile (m.) and bare-domain variants need real host names; loopback addresses have none."""

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> defer.Deferred[str]:  # noqa: N802
        pairs = os.environ.get("BW_FIXTURE_HOSTS", "").split(",")
        hosts = dict(p.split("=", 1) for p in pairs if "=" in p)
        if name in hosts:
            return defer.succeed(hosts[name])
        return super().getHostByName(name, timeout)


RESOLVER = ["-s", "DNS_RESOLVER=tests.test_discovery_crawl.FixtureHostsResolver"]
CANON_HOSTS = ("www.kanonik.rs", "m.kanonik.rs", "kanonik.rs")


# --- fixture documents -----------------------------------------------------------------------


def ago(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


def rfc822(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)


def w3c(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def paragraphs(key: str) -> list[str]:
    """Two paragraphs of ordinary news prose, distinct per page (the key is in them)."""
    return [
        f"The regional assembly met on Monday to discuss item {key} of the agenda, and members "
        "of every group took part in a debate that lasted until the late evening hours.",
        f"According to the chair, the decision on item {key} will be published next week, after "
        "the committee has reviewed the comments submitted by citizens and local associations.",
    ]


def page(title: str, key: str, **kw: Any) -> str:
    return article_page(title, paragraphs(key), published=w3c(ago(hours=3)), **kw)


def untitled_page(body: list[str], charset: str = "utf-8") -> str:
    """An article page with no <title>, heading or og:title: the listing's title must be used."""
    paras = "\n".join(f"<p>{p}</p>" for p in body)
    return (
        f'<!DOCTYPE html><html><head><meta charset="{charset}"></head><body>'
        f"<main><article>{paras}</article></main></body></html>"
    )


def rss(items: list[tuple[str, str, datetime | None]], encoding: str | None = "UTF-8") -> str:
    decl = f'<?xml version="1.0" encoding="{encoding}"?>\n' if encoding else ""
    body = "".join(
        f"<item><title>{t}</title><link>{link}</link>"
        + (f"<pubDate>{rfc822(d)}</pubDate>" if d else "")
        + "</item>\n"
        for t, link, d in items
    )
    return (
        f'{decl}<rss version="2.0"><channel><title>Fixture</title><link>http://x.invalid/</link>'
        f"<description>x</description>\n{body}</channel></rss>"
    )


def rdf(items: list[tuple[str, str, datetime]]) -> str:
    seq = "".join(f'<rdf:li rdf:resource="{link}"/>' for _, link, _ in items)
    entries = "".join(
        f'<item rdf:about="{link}"><title>{t}</title><link>{link}</link>'
        f"<dc:date>{w3c(d)}</dc:date></item>\n"
        for t, link, d in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        '<channel rdf:about="http://x.invalid/rss"><title>RDF</title><link>http://x.invalid/</link>'
        f"<description>RSS 1.0</description><items><rdf:Seq>{seq}</rdf:Seq></items></channel>\n"
        f"{entries}</rdf:RDF>"
    )


def atom(base: str, items: list[tuple[str, str, datetime]]) -> str:
    """Atom with xml:base and relative links, as many CMSs write it."""
    entries = "".join(
        f'<entry><title type="html">{t}</title><link rel="alternate" href="{path}"/>'
        f"<id>tag:fixture,{path}</id><updated>{w3c(d)}</updated><published>{w3c(d)}</published>"
        "</entry>\n"
        for t, path, d in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<feed xmlns="http://www.w3.org/2005/Atom" xml:base="{base}/"><title>Atom</title>'
        f"<id>{base}/atom</id><updated>{w3c(NOW)}</updated>\n{entries}</feed>"
    )


def sitemap(kind: str, entries: list[tuple[str, datetime | None]]) -> str:
    """A `urlset` or `sitemapindex` of (loc, lastmod)."""
    item = "url" if kind == "urlset" else "sitemap"
    body = "".join(
        f"<{item}><loc>{loc}</loc>{f'<lastmod>{w3c(d)}</lastmod>' if d else ''}</{item}>\n"
        for loc, d in entries
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<{kind} xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{body}</{kind}>'
    )


def news_sitemap(entries: list[tuple[str, str, datetime, datetime | None]]) -> str:
    """Google News entries: (loc, news:title, news:publication_date, lastmod)."""
    urls = "".join(
        f"<url><loc>{loc}</loc>{f'<lastmod>{w3c(mod)}</lastmod>' if mod else ''}"
        "<news:news><news:publication><news:name>Fixture</news:name>"
        "<news:language>bs</news:language></news:publication>"
        f"<news:publication_date>{w3c(pub)}</news:publication_date>"
        f"<news:title>{title}</news:title></news:news></url>\n"
        for loc, title, pub, mod in entries
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        f'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">\n{urls}</urlset>'
    )


def real_homepage(name: str, host_re: str, base: str) -> bytes:
    """A saved homepage with the outlet's own absolute links pointing at the fixture host."""
    raw = (HOMEPAGES / name).read_bytes()
    return re.sub(rb"(?:https?:)?//" + host_re.encode(), base.encode(), raw)


# --- the outlets -----------------------------------------------------------------------------


@dataclass
class Fixture:
    """One fixture outlet: its server, its outlets.yaml entry and what the first crawl stores."""

    name: str
    site: FixtureSite
    entry: dict[str, Any] = field(default_factory=dict)
    stored: dict[str, str | None] = field(default_factory=dict)  # canonical URL -> title

    def article(
        self, path: str, title: str | None, body: str | bytes | None = None, **route: Any
    ) -> str:
        """Serve an article at `path` that the first crawl is expected to store."""
        self.site.add(path, body if body is not None else page(title or path, path), **route)
        self.stored[self.site.url(path)] = title
        return self.site.url(path)

    def other(self, path: str) -> str:
        """Serve an article that must not be fetched (too old, disallowed, ...)."""
        return self.site.add(path, page("Not to be fetched", path))

    def source(self, kind: str, path: str, body: str | bytes, **route: Any) -> str:
        """Serve a feed or sitemap and configure it (kind: feeds | sitemaps)."""
        route.setdefault("content_type", "application/xml")
        self.entry.setdefault(kind, []).append(self.site.add(path, body, **route))
        return self.site.url(path)


def build_rss20(f: Fixture, elsewhere: FixtureSite) -> None:
    a = f.article("/2026/12/01/vlada-usvojila-budzet", "Vlada usvojila budžet za narednu godinu")
    b = f.article("/vijesti/drustvo/parlament-rasprava", "Parlament nastavlja raspravu o zakonu")
    f.source(
        "feeds",
        "/feed/",
        rss(
            [
                ("Vlada usvojila budžet", a + "?utm_source=rss&amp;utm_medium=feed", ago(hours=1)),
                ("Vlada usvojila budžet (again)", a + "?fbclid=abc#comments", ago(hours=1)),
                ("Parlament", b + "#top", ago(hours=2)),
                ("Elsewhere", elsewhere.url("/2026/12/01/tudji-clanak-o-necemu"), ago(hours=2)),
            ]
        ),
        content_type="application/rss+xml",
        etag='"rss-1"',
    )


def build_rdf(f: Fixture) -> None:
    a = f.article("/vesti/politika/1234567/dijalog-nastavljen", "Dijalog nastavljen u Briselu")
    b = f.article("/vesti/svet/1234568/samit-o-balkanu", "Samit o Zapadnom Balkanu")
    feed = rdf([("Dijalog", a, ago(hours=1)), ("Samit", b, ago(hours=4))])
    f.source("feeds", "/rss", feed, last_modified=rfc822(ago(hours=1)))


def build_atom(f: Fixture) -> None:
    f.article("/arberi/412345/kurti-takon-komandantin/", "Kurti takon komandantin e KFOR-it")
    f.article("/bote/412300/samiti-ne-bruksel/", "Samiti në Bruksel përfundon pa marrëveshje")
    feed = atom(
        f.site.base,
        [
            (
                "Kurti e &lt;b&gt;KFOR&lt;/b&gt;-it",
                "arberi/412345/kurti-takon-komandantin/",
                ago(hours=1),
            ),
            ("Samiti", "bote/412300/samiti-ne-bruksel/", ago(hours=2)),
        ],
    )
    f.source("feeds", "/atom", feed, etag='"atom-1"', last_modified=rfc822(ago(hours=1)))


def build_sitemap_index(f: Fixture, elsewhere: FixtureSite) -> None:
    a = f.article("/2026/12/01/nova-bolnica-otvorena", "Nova bolnica otvorena u Nikšiću")
    b = f.article("/2026/12/01/skupstina-izabrala-sudije", "Skupština izabrala nove sudije")
    recent = f.site.add(
        "/sitemap-posts-2026-12.xml",
        sitemap("urlset", [(a, ago(hours=1)), (b, ago(hours=2))]),
        content_type="application/xml",
        etag='"posts-12"',
    )
    old = f.site.add(
        "/sitemap-posts-2026-09.xml",
        sitemap("urlset", [(f.other("/2026/09/01/staro-a-nepromijenjeno"), None)]),
    )
    # The old child is not read at all, the other domain's neither; the index lists itself too.
    f.source(
        "sitemaps",
        "/sitemap_index.xml",
        sitemap(
            "sitemapindex",
            [
                (recent, ago(hours=1)),
                (old, ago(days=60)),
                (f.site.url("/sitemap_index.xml"), ago(hours=1)),
                (elsewhere.url("/sitemap-foreign.xml"), ago(hours=1)),
            ],
        ),
        etag='"index-1"',
    )


NEWS_TITLE = "KFOR pojačao patrole na sjeveru Kosova"
NEWS_BODY = [
    "Pripadnici KFOR-a pojačali su patrole na sjeveru Kosova nakon incidenata prošle sedmice, "
    "saopćeno je iz komande misije u Prištini.",
    "Iz komande su naveli da će pojačane patrole trajati dok se situacija ne smiri, te da je "
    "saradnja s lokalnom policijom dobra.",
]


def build_news_sitemap(f: Fixture) -> None:
    a = f.article("/vijesti/kfor-pojacao-patrole", NEWS_TITLE, untitled_page(NEWS_BODY))
    b = f.article("/vijesti/novi-zakon-o-radu", "Novi zakon o radu stupa na snagu")
    edited = f.other("/vijesti/stari-clanak-izmijenjen")  # edited now, published weeks ago
    f.source(
        "sitemaps",
        "/news-sitemap.xml",
        news_sitemap(
            [
                (a, NEWS_TITLE, ago(hours=2), None),
                (b, "Novi zakon o radu", ago(hours=5), ago(hours=5)),
                (edited, "Stari", ago(days=21), ago(hours=1)),
            ]
        ),
        etag='"news-1"',
    )


def build_plain_sitemap(f: Fixture) -> None:
    a = f.article("/lajme/qeveria-miraton-buxhetin-e-vitit", "Qeveria miraton buxhetin e vitit")
    b = f.article("/lajme/pa-date-ndryshimi-ne-harte", "Lajm pa datë ndryshimi në hartë")
    f.source(
        "sitemaps",
        "/sitemap.xml",
        sitemap(
            "urlset",
            [
                (a, ago(hours=3)),
                (b, None),  # no lastmod: kept, the seen-set decides
                (f.other("/lajme/lajm-i-vjeter-nga-tetori"), ago(days=40)),
            ],
        ),
        last_modified=rfc822(ago(hours=3)),
    )


ROBOTS_HOME = """<html><head><title>Fixture</title></head><body><nav><a href="/vesti/">Vesti</a>
<a href="/privatno/2026/12/01/interni-dokument-redakcije">Interno</a></nav></body></html>"""


def build_robots(f: Fixture) -> None:
    """No feed, no sitemap configured, a homepage without article links: robots.txt names the
    sitemap, and Disallows a path that both the sitemap and the homepage link to."""
    a = f.article("/vesti/2026/12/01/most-na-savi-otvoren", "Most na Savi otvoren za saobraćaj")
    private = f.other("/privatno/2026/12/01/interni-dokument-redakcije")
    f.site.add("/", ROBOTS_HOME, etag='"home-1"')
    f.site.add(
        "/robots.txt",
        f"User-agent: *\nDisallow: /privatno/\n\nSitemap: {f.site.url('/sitemap-vesti.xml')}\n",
        content_type="text/plain",
    )
    f.site.add(
        "/sitemap-vesti.xml",
        sitemap("urlset", [(a, ago(hours=1)), (private, None)]),
        content_type="application/xml",
        etag='"vesti-1"',
    )


def build_autodiscovery(f: Fixture) -> None:
    """The real evropaelire.org homepage announces its feed with <link rel="alternate">."""
    f.site.add("/", real_homepage("evropaelire.org.html", r"www\.evropaelire\.org", f.site.base))
    a = f.article("/a/kuvendi-miraton-ligjin/29900001.html", "Kuvendi miraton ligjin për pronën")
    b = f.article("/a/29900002.html", "Dialogu Kosovë-Serbi rifillon në Bruksel")
    f.site.add(
        "/api/",
        rss([("Kuvendi", a, ago(hours=1)), ("Dialogu", b, ago(hours=2))]),
        content_type="application/rss+xml",
        etag='"api-1"',
    )


KOHA_PATTERN = r"/arberi/\d+/"


def build_homepage_scan(f: Fixture, name: str, host_re: str, title: str) -> None:
    """A real homepage without feeds: every article link it holds is served as a small page."""
    # The outlet's filter as the spider builds it: article_pattern, else the link classifier.
    from balkanwatch.analysis.outletfilter import OutletFilter

    home = real_homepage(name, host_re, f.site.base)
    f.site.add("/", home, etag=f'"{f.name}-home"')
    url_filter = OutletFilter.build(f.entry.get("article_pattern"), ())
    for verdict in url_filter.homepage(home, f.site.url("/"), [f"{f.site.host}:{f.site.port}"]):
        if not verdict.article:
            continue
        path = verdict.url[len(f.site.base) :]
        f.article(path, f"{title} {len(f.stored)}", page(f"{title} {len(f.stored)}", path))


def build_canonical(f: Fixture) -> None:
    """Host names (www., m., bare) through FixtureHostsResolver; see test_canonical_urls."""
    port = f.site.port
    www, mobile, bare = (f"http://{host}:{port}" for host in CANON_HOSTS)
    f.entry["homepage"] = f"{www}/"
    real = f"{www}/2026/12/01/pravi-naslov-clanka/"
    f.site.add("/clanak.php?id=12345", page("Članak s kanonskim URL-om", "b", canonical=real))
    f.stored[real] = "Članak s kanonskim URL-om"
    for path, title in [
        ("/vijesti/a-tracking", "Članak s parametrima praćenja"),
        ("/vijesti/c-mobilna-verzija", "Članak s mobilne verzije"),
        ("/vijesti/d-amp-verzija", "Članak s AMP verzije"),
    ]:
        f.site.add(path, page(title, path))
        f.stored[www + path] = title
    f.site.add("/vijesti/f-bez-www", page("Članak bez www", "f"))
    f.stored[f"{bare}/vijesti/f-bez-www"] = "Članak bez www"
    f.entry["feeds"] = [f"{www}/feed/"]
    f.site.add(
        "/feed/",
        rss(
            [
                (
                    "a",
                    f"{www}/vijesti/a-tracking?utm_source=rss&amp;utm_campaign=x&amp;gclid=1",
                    NOW,
                ),
                ("b", f"{www}/clanak.php?id=12345&amp;fbclid=xyz", NOW),
                ("c", f"{mobile}/vijesti/c-mobilna-verzija", NOW),
                ("d", f"{www}/amp/vijesti/d-amp-verzija", NOW),
                ("f", f"{bare}/vijesti/f-bez-www", NOW),
            ]
        ),
        content_type="application/rss+xml",
        etag='"kanonik-1"',
    )


def republish_canonical(f: Fixture) -> None:
    """Before the second crawl: the feed now lists the stored articles under other variants."""
    www, mobile, _ = (f"http://{host}:{f.site.port}" for host in CANON_HOSTS)
    f.site.add("/vijesti/e-novi-clanak", page("Novi članak", "e"))
    f.site.add(
        "/feed/",
        rss(
            [
                ("a amp", f"{www}/vijesti/a-tracking/amp?utm_source=twitter", NOW),
                ("b canonical", f"{www}/2026/12/01/pravi-naslov-clanka/?utm_medium=social", NOW),
                ("b alias", f"{www}/clanak.php?id=12345", NOW),
                ("c", f"{mobile}/amp/vijesti/c-mobilna-verzija", NOW),
                ("d", f"{www}/vijesti/d-amp-verzija?amp=1", NOW),
                ("e", f"{www}/vijesti/e-novi-clanak", NOW),
            ]
        ),
        content_type="application/rss+xml",
        etag='"kanonik-2"',
    )


def build_aged(f: Fixture) -> None:
    fresh = f.article("/2026/vijesti/svjez-clanak-od-jutros", "Svjež članak od jutros")
    month = f.site.add("/2026/vijesti/clanak-od-proslog-mjeseca", page("Od prošlog mjeseca", "m"))
    year = f.other("/2025/vijesti/clanak-iz-2025-godine")
    f.source(
        "feeds",
        "/feed/",
        rss(
            [
                ("Svjež", fresh, ago(hours=2)),
                ("Prošli mjesec", month, ago(days=30)),
                ("2025", year, datetime(2025, 6, 1, tzinfo=UTC)),
            ]
        ),
        etag='"aged-1"',
    )


# --- encodings -------------------------------------------------------------------------------

SR = (
    "Београд и Приштина настављају дијалог у Бриселу",
    "Шеф делегације изјавио је да ће се о слободи кретања, џамијама и црквама и њиховој "
    "заштити разговарати на следећем састанку, а ђаци и љекари из општина на северу "
    "добиће посебне пропуснице.",
)
HR = (
    "Županija traži novi most preko Save",
    "Žitelji Slavonskog Broda već godinama čekaju gradnju novog mosta, a Đurđa Šimić, "
    "predsjednica udruge, kaže da svakodnevne gužve na graničnom prijelazu štete gospodarstvu "
    "cijele regije i da će natječaj biti raspisan do kraja godine.",
)
SQ = (
    "Kuvendi i Kosovës miratoi ligjin për çështjet pronësore",
    "Deputetët e Kuvendit të Kosovës miratuan në lexim të dytë ligjin për çështjet pronësore, "
    "pas një debati që zgjati gjithë ditën, dhe ministrja tha se zbatimi do të fillojë në "
    "janar e se qytetarët do të kenë mundësi të ankohen në gjykatë.",
)
LANGS = {"sr": SR, "hr": HR, "sq": SQ}


@dataclass(frozen=True)
class Encoded:
    """An article page in some encoding, declared one way (or wrongly)."""

    slug: str
    lang: str
    encoding: str
    declared_by: str  # header | meta | bom | wrong-header

    def body(self) -> bytes:
        title, sentence = LANGS[self.lang]
        meta = self.encoding if self.declared_by == "meta" else None
        paras = [sentence, *paragraphs(self.slug)]
        html = article_page(
            title, paras, published=w3c(ago(hours=2)), lang=self.lang, charset=meta or ""
        )
        if meta is None:  # no charset in the page at all
            html = html.replace('<meta charset="">', "")
        data = html.encode(self.encoding)
        return codecs.BOM_UTF8 + data if self.declared_by == "bom" else data

    def content_type(self) -> str:
        if self.declared_by == "header":
            return f"text/html; charset={self.encoding}"
        if self.declared_by == "wrong-header":
            return "text/html; charset=windows-1250"  # a stale server setting; body is UTF-8
        return "text/html"


ENCODED_PAGES = [
    Encoded("sr-utf8-header", "sr", "utf-8", "header"),
    Encoded("sr-cp1251-header", "sr", "windows-1251", "header"),
    Encoded("sr-cp1251-meta", "sr", "windows-1251", "meta"),
    Encoded("hr-iso88592-meta", "hr", "iso-8859-2", "meta"),
    Encoded("hr-iso88592-header", "hr", "iso-8859-2", "header"),
    Encoded("hr-cp1250-header", "hr", "windows-1250", "header"),
    Encoded("sq-cp1250-meta", "sq", "windows-1250", "meta"),
    Encoded("sq-utf8-bom", "sq", "utf-8", "bom"),
    Encoded("sq-utf8-wrong-header", "sq", "utf-8", "wrong-header"),
]

# Feeds in each encoding and way of declaring it; each lists a page without a title, so the
# stored title is the feed's, and shows that the feed was decoded right.
FEED_TITLES = {
    "sr-cp1251-xml": "Косово: КФОР и Приштина о ђацима, џамијама и љекарима",
    "hr-cp1250-http": "Đurđevac: župan najavio čišćenje kanala i novu cestu",
    "sq-iso88592-xml": "Kosovë: çmimet e energjisë rriten sërish në dhjetor",
    "hr-utf8-bom": "Šibenik: građani traže više linija noćnog autobusa",
}


def feed_bytes(kind: str, items: list[tuple[str, str, datetime]]) -> tuple[bytes, str]:
    """(body, content type) of an RSS feed encoded and declared as `kind` says."""
    encoding = {
        "sr-cp1251-xml": "windows-1251",
        "hr-cp1250-http": "windows-1250",
        "sq-iso88592-xml": "iso-8859-2",
        "hr-utf8-bom": "utf-8",
    }[kind]
    declared = encoding if kind.endswith("-xml") else None
    data = rss(list(items), encoding=declared).encode(encoding)
    if kind.endswith("-bom"):
        return codecs.BOM_UTF8 + data, "application/rss+xml"
    if kind.endswith("-http"):
        return data, f"application/rss+xml; charset={encoding}"
    return data, "application/rss+xml"


def build_encodings(f: Fixture) -> None:
    feeds = []
    for i, (kind, title) in enumerate(FEED_TITLES.items()):
        lang = kind[:2]
        untitled = f"/tekst/{kind}-bez-naslova"
        f.site.add(untitled, untitled_page([LANGS[lang][1], *paragraphs(kind)]))
        f.stored[f.site.url(untitled)] = title
        items = [(title, f.site.url(untitled), ago(hours=1))]
        for p in ENCODED_PAGES[i :: len(FEED_TITLES)]:  # every page in one of the feeds
            path = f"/tekst/{p.slug}"
            f.article(path, LANGS[p.lang][0], p.body(), content_type=p.content_type())
            items.append((p.slug, f.site.url(path), ago(hours=1)))
        body, ctype = feed_bytes(kind, items)
        feeds.append(f.site.add(f"/feed-{kind}.xml", body, content_type=ctype, etag=f'"{kind}"'))
    f.entry["feeds"] = feeds


# --- the crawls ------------------------------------------------------------------------------


@dataclass
class World:
    cfg: Path
    outlets: dict[str, Fixture]
    elsewhere: FixtureSite
    crawls: list[subprocess.CompletedProcess[str]] = field(default_factory=list)
    marks: dict[str, list[int]] = field(default_factory=dict)  # log length before each crawl
    articles: list[dict[str, tuple[str, str | None]]] = field(default_factory=list)

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        for name, f in self.outlets.items():
            self.marks.setdefault(name, []).append(len(f.site.log))
        env = {
            "BW_FIXTURE_HOSTS": ",".join(
                f"{h}={self.outlets['canonical'].site.host}" for h in CANON_HOSTS
            )
        }
        done = crawl(self.cfg, *RESOLVER, *args, env=env)
        assert done.returncode == 0, done.stderr[-3000:]
        self.crawls.append(done)
        rows = self.sql("SELECT url, outlet, title FROM articles")
        self.articles.append({url: (outlet, title) for url, outlet, title in rows})
        return done

    def log(self, name: str, crawl_no: int) -> list[tuple[str, dict[str, str]]]:
        """(path, headers) of every request outlet `name`'s server got during crawl 1, 2, 3."""
        marks = [*self.marks[name], None]
        entries = self.outlets[name].site.log[marks[crawl_no - 1] : marks[crawl_no]]
        return [(path, headers) for _, path, headers in entries]

    def paths(self, name: str, crawl_no: int) -> list[str]:
        return [p for p, _ in self.log(name, crawl_no) if p != "/robots.txt"]

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.cfg / "bw.db") as conn:
            return conn.execute(query, params).fetchall()

    def crawl_row(self, name: str, crawl_no: int) -> dict[str, Any]:
        with sqlite3.connect(self.cfg / "bw.db") as conn:
            conn.row_factory = sqlite3.Row
            rows = conn.execute("SELECT * FROM crawls WHERE outlet = ? ORDER BY id", (name,))
            return dict(list(rows)[crawl_no - 1])


MODES = [
    "rss20",
    "rdf",
    "atom",
    "sitemapindex",
    "newssitemap",
    "sitemap",
    "robots",
    "autodiscovery",
    "pattern",
    "heuristic",
]
ALL = [*MODES, "canonical", "aged", "encodings"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    sites = {name: FixtureSite(f"127.0.0.{10 + i}") for i, name in enumerate(ALL)}
    elsewhere = FixtureSite("127.0.0.9")
    outlets = {
        name: Fixture(name, site, {"name": name, "homepage": site.url("/"), "language": "bs"})
        for name, site in sites.items()
    }
    o = outlets
    build_rss20(o["rss20"], elsewhere)
    build_rdf(o["rdf"])
    build_atom(o["atom"])
    build_sitemap_index(o["sitemapindex"], elsewhere)
    build_news_sitemap(o["newssitemap"])
    build_plain_sitemap(o["sitemap"])
    build_robots(o["robots"])
    build_autodiscovery(o["autodiscovery"])
    o["pattern"].entry["article_pattern"] = KOHA_PATTERN
    build_homepage_scan(o["pattern"], "koha.net.html", r"www\.koha\.net", "Koha")
    build_homepage_scan(o["heuristic"], "telegrafi.com.html", r"telegrafi\.com", "Telegrafi")
    build_canonical(o["canonical"])
    build_aged(o["aged"])
    build_encodings(o["encodings"])
    w = World(
        write_config(tmp_path_factory.mktemp("cfg"), [f.entry for f in o.values()]),
        outlets,
        elsewhere,
    )
    w.run()
    republish_canonical(o["canonical"])
    w.run()
    w.run("-a", "outlets=aged", "-a", "since=2026-01-01")
    yield w
    for s in [*sites.values(), elsewhere]:
        s.close()


def stored(w: World, name: str, crawl_no: int = 1) -> dict[str, str | None]:
    """URL -> title of the articles of outlet `name` in the database after crawl 1, 2, 3."""
    return {u: title for u, (outlet, title) in w.articles[crawl_no - 1].items() if outlet == name}


# --- discovery -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_first_crawl_stores_every_article_and_records_the_run(world: World, name: str) -> None:
    f = world.outlets[name]
    assert stored(world, name) == f.stored
    row = world.crawl_row(name, 1)
    assert (row["status"], row["error"]) == ("ok", None)
    assert row["new_articles"] == len(f.stored)
    assert row["started_at"] <= row["finished_at"]
    assert f"crawl-result {name} status=ok" in world.crawls[0].stderr


def test_rss20_tracking_fragments_duplicates_and_other_domains(world: World) -> None:
    # One request per article whatever the feed's variants of it; the other domain untouched.
    assert sorted(world.paths("rss20", 1)) == [
        "/2026/12/01/vlada-usvojila-budzet",
        "/feed/",
        "/vijesti/drustvo/parlament-rasprava",
    ]
    assert world.elsewhere.log == []
    assert world.crawl_row("rss20", 1)["discovered"] == 2


def test_rdf_and_atom_feeds(world: World) -> None:
    assert sorted(world.paths("rdf", 1)) == [
        "/rss",
        "/vesti/politika/1234567/dijalog-nastavljen",
        "/vesti/svet/1234568/samit-o-balkanu",
    ]
    # Atom's xml:base-relative links resolved against the fixture host
    assert sorted(world.paths("atom", 1)) == [
        "/arberi/412345/kurti-takon-komandantin/",
        "/atom",
        "/bote/412300/samiti-ne-bruksel/",
    ]


def test_sitemap_index_reads_recent_own_children_once(world: World) -> None:
    assert sorted(world.paths("sitemapindex", 1)) == [
        "/2026/12/01/nova-bolnica-otvorena",
        "/2026/12/01/skupstina-izabrala-sudije",
        "/sitemap-posts-2026-12.xml",
        "/sitemap_index.xml",  # once, although it lists itself
    ]
    assert world.elsewhere.log == []


def test_news_sitemap_title_and_publication_date(world: World) -> None:
    f = world.outlets["newssitemap"]
    assert "/vijesti/stari-clanak-izmijenjen" not in world.paths("newssitemap", 1)
    url = f.site.url("/vijesti/kfor-pojacao-patrole")
    [(title, text, published)] = world.sql(
        "SELECT title, text, published FROM articles WHERE url = ?", url
    )
    assert title == NEWS_TITLE  # the page has none: news:title is used
    assert text.startswith(NEWS_TITLE + "\nPripadnici KFOR-a pojačali su patrole")
    assert datetime.fromisoformat(published) == ago(hours=2).replace(microsecond=0)


def test_plain_sitemap_filtered_by_lastmod(world: World) -> None:
    assert sorted(world.paths("sitemap", 1)) == [
        "/lajme/pa-date-ndryshimi-ne-harte",
        "/lajme/qeveria-miraton-buxhetin-e-vitit",
        "/sitemap.xml",
    ]


def test_robots_sitemap_lines_followed_and_disallow_obeyed(world: World) -> None:
    paths = world.paths("robots", 1)
    assert sorted(paths) == ["/", "/sitemap-vesti.xml", "/vesti/2026/12/01/most-na-savi-otvoren"]
    assert not [p for c in (1, 2) for p in world.paths("robots", c) if p.startswith("/privatno/")]
    # Skipping a Disallow'd link is policy, not an outlet error.
    row = world.crawl_row("robots", 1)
    assert (row["status"], row["error"]) == ("ok", None)


def test_feed_autodiscovery_from_the_real_homepage(world: World) -> None:
    # The homepage's 81 article links are not scanned: the announced feed is the listing.
    assert sorted(world.paths("autodiscovery", 1)) == [
        "/",
        "/a/29900002.html",
        "/a/kuvendi-miraton-ligjin/29900001.html",
        "/api/",
    ]


def test_homepage_links_by_pattern(world: World) -> None:
    paths = world.paths("pattern", 1)
    articles = [p for p in paths if p != "/"]
    assert articles and all(re.match(KOHA_PATTERN, p) for p in articles)
    assert len(articles) == len(set(articles)) == len(world.outlets["pattern"].stored)
    assert "/arberi/81607/thyerja-e-madhe-ne-lvv-kryeteme-e-se-dieles-ne-koha-ditore/" in articles
    assert "/bote/81611/rusia-debon-23-diplomate-britanike/" not in paths  # not the pattern


def test_homepage_links_by_heuristic(world: World) -> None:
    paths = set(world.paths("heuristic", 1))
    assert 100 <= len(paths) - 1 <= 115
    assert "/vuciq-nuk-ka-zgjidhje-per-kosoven-nese-prishtina-nuk-ben-kompromis/" in paths
    for navigation in ("/lajme/", "/arkiva/", "/privacy-policy/", "/sport/livescore/"):
        assert navigation not in paths
    assert not [p for p in paths if "/category/" in p or "/tag/" in p]


# --- canonical URLs --------------------------------------------------------------------------


def test_canonical_urls(world: World) -> None:
    f = world.outlets["canonical"]
    port = f.site.port
    requested = sorted((h["host"], p) for p, h in world.log("canonical", 1) if p != "/robots.txt")
    assert requested == sorted(
        [
            (f"www.kanonik.rs:{port}", "/feed/"),
            (f"www.kanonik.rs:{port}", "/vijesti/a-tracking"),  # tracking parameters dropped
            (f"www.kanonik.rs:{port}", "/clanak.php?id=12345"),
            (f"www.kanonik.rs:{port}", "/vijesti/c-mobilna-verzija"),  # not m.kanonik.rs
            (f"www.kanonik.rs:{port}", "/vijesti/d-amp-verzija"),  # not /amp/...
            (f"kanonik.rs:{port}", "/vijesti/f-bez-www"),  # an own domain beside www.
        ]
    )
    # rel="canonical": the page's URL is stored, the requested one becomes an alias
    real = f"http://www.kanonik.rs:{port}/2026/12/01/pravi-naslov-clanka/"
    assert world.sql(
        "SELECT a.url FROM aliases s JOIN articles a ON a.id = s.article_id WHERE s.url = ?",
        f"http://www.kanonik.rs:{port}/clanak.php?id=12345",
    ) == [(real,)]


def test_variants_of_stored_articles_are_not_fetched_again(world: World) -> None:
    # The second feed lists every stored article again as an AMP, mobile, canonical, alias or
    # tracking variant: only the one new article is fetched.
    assert sorted(world.paths("canonical", 2)) == ["/feed/", "/vijesti/e-novi-clanak"]
    assert world.sql("SELECT count(*) FROM articles WHERE outlet = 'canonical'") == [(6,)]


# --- no waste --------------------------------------------------------------------------------

# Per outlet: sources polled conditionally (a 304 on the unchanged second crawl) and pointers
# read in full every time.
LISTINGS = {
    "rss20": ["/feed/"],
    "rdf": ["/rss"],
    "atom": ["/atom"],
    "sitemapindex": ["/sitemap-posts-2026-12.xml"],
    "newssitemap": ["/news-sitemap.xml"],
    "sitemap": ["/sitemap.xml"],
    "robots": ["/", "/sitemap-vesti.xml"],
    "autodiscovery": ["/api/"],
    "pattern": ["/"],
    "heuristic": ["/"],
    "aged": ["/feed/"],
    "encodings": [f"/feed-{kind}.xml" for kind in FEED_TITLES],
}
POINTERS = {"sitemapindex": ["/sitemap_index.xml"], "autodiscovery": ["/"]}


@pytest.mark.parametrize("name", sorted(LISTINGS))
def test_unchanged_second_crawl_costs_only_conditional_requests(world: World, name: str) -> None:
    log = world.log(name, 2)
    paths = [p for p, _ in log if p != "/robots.txt"]
    assert sorted(paths) == sorted(LISTINGS[name] + POINTERS.get(name, []))  # no article at all
    for path, headers in log:
        conditional = "if-none-match" in headers or "if-modified-since" in headers
        assert conditional == (path in LISTINGS[name]), path
    row = world.crawl_row(name, 2)
    assert (row["status"], row["error"]) == ("ok", None)  # a 304 is not parsed as a feed
    assert (row["not_modified"], row["new_articles"]) == (len(LISTINGS[name]), 0)


def test_validators_sent_back_as_stored(world: World) -> None:
    [rdf_headers] = [h for p, h in world.log("rdf", 2) if p == "/rss"]
    assert (
        rdf_headers["if-modified-since"] == world.outlets["rdf"].site.routes["/rss"].last_modified
    )
    assert "if-none-match" not in rdf_headers
    feed = [h for p, h in world.log("rss20", 2) if p == "/feed/"]
    assert feed[0]["if-none-match"] == '"rss-1"'


def test_old_items_skipped_unless_backfilled(world: World) -> None:
    assert world.paths("aged", 1) == ["/feed/", "/2026/vijesti/svjez-clanak-od-jutros"]
    # -a since=2026-01-01 reads the feed in full (no 304) and fetches what is newer than that.
    assert world.paths("aged", 3) == ["/feed/", "/2026/vijesti/clanak-od-proslog-mjeseca"]
    [feed] = [headers for path, headers in world.log("aged", 3) if path == "/feed/"]
    assert "if-none-match" not in feed
    assert world.sql("SELECT count(*) FROM articles WHERE outlet = 'aged'") == [(2,)]
    assert world.crawl_row("aged", 3)["new_articles"] == 1


def test_request_counts_match_the_servers(world: World) -> None:
    """crawls.requests counts what the spider sent, as the fixture servers saw it (their
    robots.txt requests aside, which come from Scrapy's robots.txt middleware)."""
    for crawl_no in (1, 2):
        for name in ALL:
            row = world.crawl_row(name, crawl_no)
            spider_robots = 1 if name in ("robots", "pattern", "heuristic") else 0
            assert row["requests"] == len(world.paths(name, crawl_no)) + spider_robots, name


# --- encodings -------------------------------------------------------------------------------


@pytest.mark.parametrize("p", ENCODED_PAGES, ids=lambda p: p.slug)
def test_pages_in_every_encoding_are_stored_as_unicode(world: World, p: Encoded) -> None:
    url = world.outlets["encodings"].site.url(f"/tekst/{p.slug}")
    [(title, text)] = world.sql("SELECT title, text FROM articles WHERE url = ?", url)
    title_expected, sentence = LANGS[p.lang]
    assert title == title_expected
    assert text.splitlines()[:2] == [title_expected, sentence]


@pytest.mark.parametrize("kind", FEED_TITLES)
def test_feeds_in_every_encoding_are_read_as_unicode(world: World, kind: str) -> None:
    url = world.outlets["encodings"].site.url(f"/tekst/{kind}-bez-naslova")
    [(title, text)] = world.sql("SELECT title, text FROM articles WHERE url = ?", url)
    assert title == FEED_TITLES[kind]
    assert text.splitlines()[:2] == [FEED_TITLES[kind], LANGS[kind[:2]][1]]
