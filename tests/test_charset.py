"""balkanwatch.analysis.charset: pages whose declared charset is wrong come out as the text
their authors wrote, and pages whose declaration is right are left alone."""

from __future__ import annotations

import codecs
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime as rfc822
from pathlib import Path
from typing import Any

import lxml.etree
import pytest

from balkanwatch.analysis.charset import decode, decode_html, decode_xml, xml_to_utf8
from tests.support import FixtureSite, article_page, crawl, write_config
from tests.support import rss as rss_feed

# Ordinary news sentences with every letter their alphabet adds to ASCII.
SR_LATIN = (
    "Čačak i Šabac: đaci iz Prištine i Ćuprije dobiće nove škole, kaže Željko Đurić. "
    "Opština je obezbedila zemljište, a radovi počinju u proleće."
)
BS = (
    "Sarajevo: Vijeće ministara BiH usvojilo je odluku o džamijama i crkvama, a općine "
    "Žepče i Tešanj traže hitnu pomoć za ugrožene porodice i ljekare."
)
HR = "Županija traži novi most preko Save, a Đurđa Šimić kaže da će natječaj biti raspisan."
SR_CYRILLIC = (
    "Шеф делегације изјавио је да ће се о слободи кретања, џамијама и црквама "
    "разговарати на следећем састанку, а ђаци и љекари добиће пропуснице."
)
MK = (
    "Ѓорѓи Ќосевски од Охрид рече дека ѕидовите на тврдината ќе бидат обновени, "
    "а Владата ги одобри средствата за љубителите на џез."
)
SQ = (
    "Kuvendi i Kosovës miratoi ligjin për çështjet pronësore; Çerkezët e Prizrenit dhe "
    "qytetarët e tjerë do të kenë mundësi të ankohen në gjykatë."
)


def page(text: str, meta: str | None) -> str:
    charset = f'<meta charset="{meta}">' if meta else ""
    return (
        f"<!DOCTYPE html><html><head>{charset}<title>{text[:30]}</title></head>"
        f"<body><nav><a href='/'>Home</a></nav><article><p>{text}</p></article></body></html>"
    )


@dataclass(frozen=True)
class Case:
    id: str
    text: str
    language: str | None  # the outlet's; None: the whole region's alphabets
    written: str  # the encoding of the bytes
    header: str | None  # the HTTP header's charset
    meta: str | None  # the page's own <meta charset>


CASES = [
    # Legacy bytes declared as UTF-8: the common failure of moved Serbian and Bosnian sites.
    Case("sr-latin-cp1250-as-utf8", SR_LATIN, "sr", "windows-1250", "utf-8", "utf-8"),
    Case("sr-latin-iso88592-as-utf8", SR_LATIN, "sr", "iso-8859-2", "utf-8", "utf-8"),
    Case("sr-cyrillic-cp1251-as-utf8", SR_CYRILLIC, "sr", "windows-1251", "utf-8", "utf-8"),
    Case("mk-cp1251-as-utf8", MK, "mk", "windows-1251", "utf-8", None),
    Case("bs-cp1250-as-utf8", BS, "bs", "windows-1250", "utf-8", None),
    Case("hr-iso88592-as-utf8", HR, "hr", "iso-8859-2", None, "utf-8"),
    Case("sq-cp1252-as-utf8", SQ, "sq", "windows-1252", "utf-8", "utf-8"),
    Case("sq-latin1-as-utf8", SQ, "sq", "iso-8859-1", "utf-8", None),
    # The same, for an outlet whose language is not configured.
    Case("any-sr-cp1250-as-utf8", SR_LATIN, None, "windows-1250", "utf-8", None),
    Case("any-sr-cyrillic-cp1251-as-utf8", SR_CYRILLIC, None, "windows-1251", "utf-8", None),
    Case("any-mk-cp1251-as-utf8", MK, None, "windows-1251", None, "utf-8"),
    Case("any-sq-cp1252-as-utf8", SQ, None, "windows-1252", "utf-8", None),
    # UTF-8 declared as a code page (a stale server setting or template).
    Case("sr-utf8-as-cp1250", SR_LATIN, "sr", "utf-8", "windows-1250", "windows-1250"),
    Case("mk-utf8-as-cp1251", MK, "mk", "utf-8", "windows-1251", None),
    Case("sq-utf8-as-latin1", SQ, "sq", "utf-8", None, "iso-8859-1"),
    # The header and the meta tag disagree; either may be the right one.
    Case("meta-right-header-wrong-cyr", SR_CYRILLIC, "sr", "windows-1251", "utf-8", "cp1251"),
    Case("header-right-meta-wrong-cyr", MK, "mk", "windows-1251", "windows-1251", "utf-8"),
    Case("meta-right-header-cp1251", BS, "bs", "windows-1250", "windows-1251", "windows-1250"),
    Case("iso88592-header-cp1250-bytes", HR, "hr", "windows-1250", "iso-8859-2", None),
    Case("cp1250-header-iso88592-bytes", SR_LATIN, "sr", "iso-8859-2", "windows-1250", None),
    # Right declarations stay right.
    Case("sr-cp1250-declared", SR_LATIN, "sr", "windows-1250", "windows-1250", None),
    Case("sr-iso88592-declared", SR_LATIN, "sr", "iso-8859-2", None, "iso-8859-2"),
    Case("mk-cp1251-declared", MK, "mk", "windows-1251", "windows-1251", None),
    Case("sq-utf8-declared", SQ, "sq", "utf-8", "utf-8", "utf-8"),
    Case("sq-cp1252-undeclared", SQ, "sq", "windows-1252", None, None),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_decoded_as_written(case: Case) -> None:
    html = page(case.text, case.meta)
    decoded = decode_html(html.encode(case.written), case.header, case.language)
    assert decoded.text == html
    assert "\ufffd" not in decoded.text


def test_the_real_bytes() -> None:
    """The byte values that make the difference, spelled out: č ć š ž đ in windows-1250
    (š ž at 0x9A 0x9E) and in ISO-8859-2 (at 0xB9 0xBE), ѓ ќ ѕ in windows-1251."""
    assert "čćšžđ".encode("windows-1250") == b"\xe8\xe6\x9a\x9e\xf0"
    assert "čćšžđ".encode("iso-8859-2") == b"\xe8\xe6\xb9\xbe\xf0"
    assert "ѓќѕ".encode("windows-1251") == b"\x83\x9d\xbe"
    body = b"<p>Pri\x9atini (\xc8a\xe8ak \x8aabac, \xd0akovica) \xe6e \x9eeleti</p>"
    assert decode_html(body, "utf-8", "sr").text == (
        "<p>Prištini (Čačak Šabac, Đakovica) će želeti</p>"
    )
    latin2 = b"<p>Pri\xb9tini (\xc8a\xe8ak \xa9abac) \xe6e \xbeeleti</p>"
    assert decode_html(latin2, "utf-8", "sr").text == "<p>Prištini (Čačak Šabac) će želeti</p>"
    cyr = b"<p>\xc3\xee\xf0\x83\xe8 \x8d\xee\xf1\xe5 \xe8 \xbe\xe8\xe4</p>"
    assert decode_html(cyr, "utf-8", "mk").text == "<p>Горѓи Ќосе и ѕид</p>"


def test_no_mojibake_either_way() -> None:
    """UTF-8 read as a code page gives "ÄŤ"/"Ã«"; a code page read as UTF-8 gives U+FFFD."""
    for text, language in [(SR_LATIN, "sr"), (SQ, "sq"), (MK, "mk")]:
        for header in ("windows-1250", "windows-1252", "iso-8859-2", "windows-1251"):
            decoded = decode_html(page(text, None).encode("utf-8"), header, language)
            assert text in decoded.text, header
            assert decoded.encoding == "utf-8"


def misdecoded(data: bytes, codepage: str) -> str:
    """`data` read in a Windows code page the way browsers and MySQL's latin1 do it: the
    bytes the code page leaves undefined become C1 controls."""
    out = []
    for byte in data:
        try:
            out.append(bytes([byte]).decode(codepage))
        except UnicodeDecodeError:
            out.append(chr(byte))
    return "".join(out)


@pytest.mark.parametrize(("text", "language"), [(SR_LATIN, "sr"), (SQ, "sq"), (BS, "bs")])
@pytest.mark.parametrize("codepage", ["cp1252", "cp1250"])
def test_double_encoded_utf8_is_repaired(text: str, language: str, codepage: str) -> None:
    """Valid UTF-8 that spells "Ä\\x8d"/"Ã«": the outlet's CMS decoded its UTF-8 in a code
    page once and stored the result as UTF-8."""
    stored = misdecoded(page(text, "utf-8").encode("utf-8"), codepage)
    assert text not in stored
    decoded = decode_html(stored.encode("utf-8"), "utf-8", language)
    assert decoded.text == page(text, "utf-8")
    assert decoded.undoubled == codepage


@pytest.mark.parametrize(
    "text",
    [
        "ĐOKOVIĆ „Š“ i ČŠ, Đ» ž…",  # lead-like capitals before quotes: not mojibake
        "Citat: „Ä“ i Ö° – nemačka slova",
        "Müller, José, Ørsted i Đorđe",
    ],
)
def test_real_text_that_looks_suspicious_is_left_alone(text: str) -> None:
    body = page(text, "utf-8").encode("utf-8")
    assert decode_html(body, "utf-8", "sr").text == page(text, "utf-8")


def test_utf8_page_with_stray_legacy_bytes() -> None:
    """A UTF-8 page with an old windows-1250 snippet pasted in: UTF-8, and the snippet's
    bytes read as windows-1250 rather than replaced."""
    body = page(SR_LATIN, "utf-8").encode("utf-8") + "<p>Komentar: čitaoci iz Đakovice</p>".encode(
        "windows-1250"
    )
    decoded = decode_html(body, "utf-8", "sr")
    assert decoded.text == page(SR_LATIN, "utf-8") + "<p>Komentar: čitaoci iz Đakovice</p>"
    assert (decoded.encoding, decoded.fallback) == ("utf-8", "cp1250")


def test_bom_wins_and_is_dropped() -> None:
    body = codecs.BOM_UTF8 + page(SQ, "windows-1250").encode("utf-8")
    decoded = decode_html(body, "windows-1251", "sq")
    assert decoded.text == page(SQ, "windows-1250")


def test_valid_utf8_never_reads_the_declarations() -> None:
    """The hot path: a UTF-8 (or ASCII) page never looks for a meta tag."""

    def declarations() -> Iterator[str | None]:
        raise AssertionError("declarations read for a UTF-8 page")
        yield None

    for text in (SR_LATIN, SR_CYRILLIC, MK, SQ, "plain ASCII"):
        assert decode(page(text, None).encode("utf-8"), declarations(), "sr").text == page(
            text, None
        )


def test_note_says_what_was_not_believed() -> None:
    decoded = decode_html(page(MK, None).encode("windows-1251"), "utf-8", "mk")
    assert decoded.note == "declared utf-8, decoded as cp1251"
    assert decode_html(page(MK, None).encode("windows-1251"), "windows-1251", "mk").note is None


def test_binary_is_not_guessed() -> None:
    assert decode_html(b"\x00\x01<html>\xff\xfe</html>").text == "\x00\x01<html>\ufffd\ufffd</html>"


# --- feeds and sitemaps ----------------------------------------------------------------------


def rss(title: str, encoding: str | None) -> str:
    decl = f'<?xml version="1.0" encoding="{encoding}"?>' if encoding else ""
    return (
        f'{decl}<rss version="2.0"><channel><title>x</title><item><title>{title}</title>'
        "<link>http://example.rs/a</link></item></channel></rss>"
    )


@pytest.mark.parametrize(
    ("title", "language", "written", "declared", "header"),
    [
        (SR_CYRILLIC, "sr", "windows-1251", "UTF-8", None),  # the XML declaration lies
        (MK, None, "windows-1251", None, "utf-8"),  # no declaration, the header lies
        (SR_LATIN, "sr", "windows-1250", "utf-8", "utf-8"),
        (SQ, "sq", "windows-1252", "UTF-8", None),
        (SR_LATIN, "sr", "utf-8", "windows-1250", None),  # UTF-8 declared as a code page
        (HR, "hr", "iso-8859-2", "iso-8859-2", "utf-8"),  # right declaration, wrong header
    ],
)
def test_feeds_reach_the_xml_parser_as_written(
    title: str, language: str | None, written: str, declared: str | None, header: str | None
) -> None:
    body = rss(title, declared).encode(written)
    assert decode_xml(body, header, language).text == rss(title, declared)
    root = lxml.etree.fromstring(xml_to_utf8(body, header, language))
    assert root.findtext("channel/item/title") == title


def test_right_feeds_are_passed_on_unchanged() -> None:
    for body in (
        rss(SR_CYRILLIC, "windows-1251").encode("windows-1251"),
        rss(SQ, "UTF-8").encode("utf-8"),
        rss(SQ, None).encode("utf-8"),
        rss("ASCII only", "iso-8859-2").encode("ascii"),
    ):
        assert xml_to_utf8(body, "utf-8", None) is body


# --- through a crawl -------------------------------------------------------------------------
# Four loopback outlets, one per language, whose servers and pages declare the wrong charset;
# `scrapy crawl outlets` must store every article with its title and text as written.

NOW = datetime.now(UTC)


@dataclass(frozen=True)
class Article:
    path: str
    title: str
    paras: tuple[str, str]
    written: str
    header: str | None  # charset in Content-Type
    meta: str | None
    titled: bool = True  # False: no title in the page, the listing's must be stored

    def body(self) -> bytes:
        if self.titled:
            html = article_page(self.title, list(self.paras), lang="", charset=self.meta or "")
        else:
            paras = "".join(f"<p>{p}</p>" for p in self.paras)
            html = f'<html><head><meta charset="{self.meta}"></head><body><article>{paras}'
            html += "</article></body></html>"
        return html.replace('<meta charset="">', "").encode(self.written)

    def content_type(self) -> str:
        return f"text/html; charset={self.header}" if self.header else "text/html"


SR_CYR_2 = (
    "Влада Србије усвојила је нацрт закона о заштити животне средине, а министарка је "
    "рекла да ће јавна расправа трајати до краја месеца.",
    "Удружења грађана из Ниша и Чачка тражила су да се рок продужи, јер је, како кажу, "
    "документ обиман и тешко разумљив.",
)
SR_LAT_2 = (
    "Skupština grada Novog Sada usvojila je budžet za sledeću godinu, a najviše novca "
    "izdvojeno je za škole, vrtiće i održavanje ulica.",
    "Odbornici opozicije kažu da su troškovi za reprezentaciju preveliki i da će tražiti "
    "reviziju, dok gradonačelnik tvrdi da je sve po zakonu.",
)
MK_2 = (
    "Советот на Општина Охрид одлучи ѕидините на старата чаршија да се обноват, а "
    "градоначалникот рече дека работите ќе почнат на пролет.",
    "Граѓаните од Ѓорче Петров и Кисела Вода бараат поголема заштита од бучавата, "
    "а Министерството вети нови правила за џез клубовите.",
)
SQ_2 = (
    "Qeveria e Kosovës miratoi sot projektligjin për çmimet e energjisë, ndërsa ministrja "
    "tha se ndihma për familjet do të vazhdojë edhe gjatë dimrit.",
    "Opozita kërkoi që çështja të shqyrtohet në Kuvend, duke thënë se vendimi është marrë "
    "pa konsultim me qytetarët dhe bizneset e vogla.",
)
BS_2 = (
    "Općinsko vijeće u Zenici usvojilo je odluku o izgradnji nove džamije i škole, a "
    "načelnik je rekao da će radovi početi već ove jeseni.",
    "Mještani naselja Crkvice žale se da su godinama čekali vodovod i da su obećanja "
    "prethodnih vlasti ostala samo na papiru.",
)

OUTLETS: dict[str, tuple[str, list[Article]]] = {
    "srbija": (
        "sr",
        [
            Article("/vesti/1-cirilica", "Нацрт закона о животној средини", SR_CYR_2,
                    "windows-1251", "utf-8", "utf-8"),
            Article("/vesti/2-latinica", "Novi Sad: budžet za škole i vrtiće", SR_LAT_2,
                    "windows-1250", "utf-8", None),
            Article("/vesti/3-latin2", "Đaci, škole i ulice: šta kaže grad", SR_LAT_2[::-1],
                    "iso-8859-2", None, "utf-8"),
            Article("/vesti/4-utf8", "Čačak i Šabac traže izmene zakona", SR_LAT_2,
                    "utf-8", "windows-1250", "windows-1250"),
            Article("/vesti/5-meta", "Ниш и Чачак траже дужу расправу", SR_CYR_2[::-1],
                    "windows-1251", "utf-8", "windows-1251"),
            Article("/vesti/6-bez-naslova", "Ђаци и љекари: шта доноси нови закон", SR_CYR_2,
                    "windows-1251", "utf-8", "utf-8", titled=False),
        ],
    ),
    "makedonija": (
        "mk",
        [
            Article("/2026/12/01/ohrid-sidini", "Охрид: ѕидините на чаршијата ќе се обноват",
                    MK_2, "windows-1251", "utf-8", "utf-8"),
            Article("/2026/12/01/gjorce-buka", "Ѓорче Петров бара заштита од бучава", MK_2[::-1],
                    "windows-1251", "utf-8", "utf-8", titled=False),
        ],
    ),
    "shqiperia": (
        "sq",
        [
            Article("/lajme/cmimet", "Çmimet e energjisë: çka miratoi Qeveria", SQ_2,
                    "windows-1252", "utf-8", "utf-8"),
            Article("/lajme/opozita", "Opozita kërkon seancë për çështjen", SQ_2[::-1],
                    "iso-8859-1", "utf-8", None),
        ],
    ),
    "bosna": (
        "bs",
        [
            Article("/vijesti/zenica", "Zenica: nova džamija i škola", BS_2,
                    "windows-1250", "utf-8", "utf-8"),
            Article("/vijesti/crkvice", "Crkvice čekaju vodovod već godinama", BS_2[::-1],
                    "windows-1250", "utf-8", "utf-8", titled=False),
        ],
    ),
}  # fmt: skip


def serve(name: str, site: FixtureSite, articles: list[Article]) -> dict[str, Any]:
    """Each outlet lists its articles its own way, in its articles' mislabelled encoding."""
    for a in articles:
        site.add(a.path, a.body(), content_type=a.content_type())
    when = NOW - timedelta(hours=1)
    if name == "makedonija":  # no feed: the homepage's link texts are the listing
        links = "".join(f'<li><a href="{a.path}">{a.title}</a></li>' for a in articles)
        home = f'<html><head><meta charset="utf-8"></head><body><ul>{links}</ul></body></html>'
        site.add("/", home.encode("windows-1251"), content_type="text/html; charset=utf-8")
        return {}
    if name == "bosna":  # a Google News sitemap, windows-1250 declared UTF-8
        urls = "".join(
            f"<url><loc>{site.url(a.path)}</loc><news:news><news:publication><news:name>B"
            "</news:name><news:language>bs</news:language></news:publication>"
            f"<news:publication_date>{when.isoformat(timespec='seconds')}</news:publication_date>"
            f"<news:title>{a.title}</news:title></news:news></url>"
            for a in articles
        )
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/'
            'schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
            f"{urls}</urlset>"
        )
        return {"sitemaps": [site.add("/news.xml", xml.encode("windows-1250"))]}
    feeds = []
    # Serbian outlets write either script: a feed per code page, each declaring UTF-8.
    for written in ("windows-1251", "windows-1250") if name == "srbija" else ("utf-8",):
        listed = [a for a in articles if _encodable(a.title, written)]
        feed = rss_feed(
            [{"title": a.title, "link": site.url(a.path), "pubDate": rfc822(when)} for a in listed]
        ).encode(written)
        feeds.append(site.add(f"/feed-{written}/", feed, content_type="application/rss+xml"))
    return {"feeds": feeds}


def _encodable(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    sites = {name: FixtureSite(f"127.0.0.{60 + i}") for i, name in enumerate(OUTLETS)}
    entries = []
    for name, (language, articles) in OUTLETS.items():
        site = sites[name]
        entry = {"name": name, "homepage": site.url("/"), "language": language}
        entries.append({**entry, **serve(name, site, articles)})
    cfg = write_config(tmp_path_factory.mktemp("cfg"), entries)
    done = crawl(cfg)
    assert done.returncode == 0, done.stderr[-3000:]
    yield cfg
    for site in sites.values():
        site.close()


CRAWLED = [(name, a) for name, (_, articles) in OUTLETS.items() for a in articles]


@pytest.mark.parametrize(("name", "article"), CRAWLED, ids=[a.path for _, a in CRAWLED])
def test_crawled_articles_are_stored_as_written(crawled: Path, name: str, article: Article) -> None:
    with sqlite3.connect(crawled / "bw.db") as conn:
        rows = conn.execute(
            "SELECT title, text FROM articles WHERE outlet = ? AND url LIKE ?",
            (name, f"%{article.path}"),
        ).fetchall()
    assert len(rows) == 1, f"{article.path} not stored"
    [(title, text)] = rows
    assert title == article.title
    assert text.splitlines()[:3] == [article.title, *article.paras]


def test_crawled_outlets_are_recorded_ok(crawled: Path) -> None:
    with sqlite3.connect(crawled / "bw.db") as conn:
        rows = conn.execute("SELECT outlet, status, error, new_articles FROM crawls").fetchall()
    assert sorted(rows) == sorted(
        (name, "ok", None, len(articles)) for name, (_, articles) in OUTLETS.items()
    )
