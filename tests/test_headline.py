"""Tests for balkanwatch/analysis/headline.py.

Each page is a small document in the shape a real template gives it (the structures come
from the dev pages: kicker spans, SEO <h1> in the breadcrumb, live-blog JSON-LD).
"""

from __future__ import annotations

import json

import pytest
from lxml.html import document_fromstring

from balkanwatch.analysis.extract import extract_article
from balkanwatch.analysis.headline import headline, learn_affixes, strip_affixes

BODY = (
    "<p>The government in Pristina adopted the draft budget on Thursday after a long debate in "
    "which the opposition accused ministers of ignoring the municipalities in the north.</p>"
)


def doc(head: str = "", body: str = "") -> str:
    return f"<html><head><meta charset='utf-8'>{head}</head><body>{body}</body></html>"


def meta(key: str, value: str) -> str:
    attribute = "property" if key.startswith("og:") else "name"
    return f'<meta {attribute}="{key}" content="{value}">'


def ld(data: object) -> str:
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


CASES = [
    pytest.param(
        doc(
            "<title>Budget adopted | CBC News</title>" + meta("og:site_name", "CBC News"),
            "<article><h1>Budget adopted</h1></article>",
        ),
        "Budget adopted",
        id="visible-h1",
    ),
    pytest.param(
        doc(
            "<title>Budget adopted after long debate | CBC News</title>"
            + meta("og:site_name", "CBC News")
        ),
        "Budget adopted after long debate",
        id="site-name-suffix-from-og-site-name",
    ),
    pytest.param(
        doc("<title>Kosovo: talks resume in Brussels - Example Daily</title>"),
        "Kosovo: talks resume in Brussels",
        id="host-name-suffix-and-headline-colon-kept",
    ),
    pytest.param(
        doc(
            "<title>Минделхайм: «Преговори» настављени — РТС</title>" + meta("og:site_name", "РТС"),
        ),
        "Минделхайм: «Преговори» настављени",
        id="cyrillic-and-guillemets-kept",
    ),
    pytest.param(
        doc(
            "<title>宮崎県で震度5弱 気象庁：朝日新聞デジタル</title>"
            + meta("og:site_name", "朝日新聞デジタル"),
        ),
        "宮崎県で震度5弱 気象庁",
        id="full-width-separator",
    ),
    pytest.param(
        doc(
            meta("og:title", "Drusen fordern Teilhabe statt Schutzgarantien"),
            '<main><article><header><h1 class="article-title">'
            '<span class="article-title__overline">Minderheit in Syrien</span>'
            '<span class="h-offscreen" aria-hidden="true"> - </span>'
            '<span class="article-title__text">Drusen fordern Teilhabe statt Schutzgarantien</span>'
            "</h1></header></article></main>",
        ),
        "Drusen fordern Teilhabe statt Schutzgarantien",
        id="kicker-span-dropped",
    ),
    pytest.param(
        doc(
            meta("og:title", "Ausschuss zur Ahrtal-Flut: Zwei Rücktritte"),
            '<article><h1><span class="seitenkopf__topline">Ausschuss zur Ahrtal-Flut</span> '
            "<span>Zwei Rücktritte</span></h1></article>",
        ),
        "Ausschuss zur Ahrtal-Flut: Zwei Rücktritte",
        id="declared-form-keeps-the-separator-a-two-line-h1-drops",
    ),
    pytest.param(
        doc(
            meta("og:title", "Judy Lybke, ganz und gar nicht eigenartig")
            + ld({"@type": "NewsArticle", "headline": "Neue Leipziger Schule: Judy Lybke, ganz"}),
            '<nav class="breadcrumb"><h1>Neue Leipziger Schule: Judy Lybke, ganz</h1></nav>'
            '<article><h2><span class="kicker-red">Neue Leipziger Schule</span>'
            "<span>Judy Lybke, ganz und gar nicht eigenartig</span></h2></article>",
        ),
        "Judy Lybke, ganz und gar nicht eigenartig",
        id="seo-h1-in-breadcrumb-visible-h2",
    ),
    pytest.param(
        doc(
            ld(
                {
                    "@context": "https://schema.org",
                    "@graph": [
                        {"@type": "WebSite", "name": "Portal"},
                        {
                            "@type": "NewsArticle",
                            "headline": "Skupština usvojila budžet &quot;2026&quot;",
                        },
                    ],
                }
            )
            + "<title>Naslovna strana portala</title>",
        ),
        'Skupština usvojila budžet "2026"',
        id="json-ld-graph-headline-unescaped",
    ),
    pytest.param(
        doc(
            ld(
                {
                    "@type": "LiveBlogPosting",
                    "headline": "UK riots live: protests in Plymouth",
                    "liveBlogUpdate": [{"@type": "BlogPosting", "headline": "Police update"}],
                }
            ),
            '<header><h1 class="logo"><a href="/">Mirror</a></h1></header>',
        ),
        "UK riots live: protests in Plymouth",
        id="live-blog-updates-and-logo-h1-ignored",
    ),
    pytest.param(
        doc(
            "<title>Vlada usvojila budžet | Radio Slobodna Evropa</title>"
            + meta("og:site_name", "Radio Slobodna Evropa"),
            "<div class='top'><h1><a href='/'>Radio Slobodna Evropa</a></h1></div>"
            "<div class='top'><h1><a href='https://www.example-daily.com/'>Example Daily News"
            "</a></h1></div>",
        ),
        "Vlada usvojila budžet",
        id="masthead-h1s-ignored",
    ),
    pytest.param(
        doc(
            ld({"@type": "NewsArticle", "headline": "Vlada usvojila budžet za 2027. godinu"})
            + meta("og:title", "Vlada usvojila budžet za 2027. godinu | Example Daily"),
            "<article><h1>Budžet usvojen posle duge rasprave</h1></article>",
        ),
        "Vlada usvojila budžet za 2027. godinu",
        id="agreed-declaration-over-a-heading-that-matches-none",
    ),
    pytest.param(
        doc(
            ld({"@type": "NewsArticle", "headline": "Vlada usvojila budžet za 2027. godinu"})
            + meta("og:title", "Budžet usvojen: opozicija napustila salu"),
            "<article><h1>Budžet usvojen posle duge rasprave</h1></article>",
        ),
        "Budžet usvojen posle duge rasprave",
        id="declarations-that-disagree-leave-the-visible-heading",
    ),
    pytest.param(
        doc(
            ld({"@type": "NewsArticle", "headline": "Sjever Kosova: Vlada usvojila budžet"})
            + meta("og:title", "Sjever Kosova: Vlada usvojila budžet"),
            "<p class='section'>Sjever Kosova</p><article><h1>Vlada usvojila budžet</h1></article>",
        ),
        "Vlada usvojila budžet",
        id="kicker-outside-the-heading-keeps-the-visible-heading",
    ),
    pytest.param(doc("", "<p>nothing here</p>"), None, id="none-declared"),
]


@pytest.mark.parametrize(("html", "expected"), CASES)
def test_headline(html: str, expected: str | None) -> None:
    assert headline(document_fromstring(html), "https://www.example-daily.com/a/1") == expected


def test_outlet_title_hint_strips_its_name() -> None:
    tree = document_fromstring(doc("<title>Vlada usvojila budžet - Radio Slobodna Evropa</title>"))
    assert headline(tree) == "Vlada usvojila budžet - Radio Slobodna Evropa"
    hinted = headline(tree, site_title="Radio Slobodna Evropa (RFE/RL Balkan Service)")
    assert hinted == "Vlada usvojila budžet"


OUTLET_TITLES = [  # the outlet's other stored <title>s: nothing else names the site
    "Kurti meets Vučić in Brussels ~ Prishtina Insight Weekly",
    "Energy prices rise again in Kosovo ~ Prishtina Insight Weekly",
    "Prishtina Insight Weekly",  # its homepage
    "Parliament approves new budget ~ Prishtina Insight Weekly",
]


def test_site_suffix_learnt_from_the_outlets_other_pages_only() -> None:
    assert learn_affixes(OUTLET_TITLES) == ("prishtinainsightweekly",)
    page = doc("<title>Municipal elections set for October ~ Prishtina Insight Weekly</title>")
    url = "https://pi.example/2026/05/elections"  # the host says nothing of the name
    assert headline(document_fromstring(page), url) == page.split("<title>")[1].split("</title>")[0]
    learnt = headline(document_fromstring(page), url, known_titles=OUTLET_TITLES)
    assert learnt == "Municipal elections set for October"
    extracted = extract_article(page.replace("</body>", f"<article>{BODY}</article></body>"), url)
    assert extracted is not None and extracted.page_title is not None
    assert extracted.page_title.endswith("~ Prishtina Insight Weekly")  # what the outlet stores


GLUED = [  # an outlet that glues the section to the headline with a bare hyphen
    "장동혁 대표, 최고위 회의 주재-정치ㅣ한국일보",
    "서울 아파트값 다시 올라-경제ㅣ한국일보",
    "폭설로 항공편 무더기 결항-사회ㅣ한국일보",
    "한국일보",
]


def test_glued_section_label_learnt_from_the_outlets_titles() -> None:
    page = doc(
        meta("og:title", "여야, 예산안 처리 합의-정치ㅣ한국일보") + meta("og:site_name", "한국일보")
    )
    url = "https://www.hankookilbo.com/News/Read/A2026"
    assert headline(document_fromstring(page), url) == "여야, 예산안 처리 합의-정치"
    assert headline(document_fromstring(page), url, known_titles=GLUED) == "여야, 예산안 처리 합의"
    compound = [  # one headline ending in a hyphenated compound is no pattern
        "Sastanak Vučić-Kurti u Briselu | N1",
        "Budžet usvojen | N1",
        "Protest u Prištini | N1",
        "Izbori u oktobru | N1",
    ]
    kept = doc(meta("og:title", "Novi sastanak Vučić-Kurti | N1"))
    assert headline(document_fromstring(kept), url, known_titles=compound) == (
        "Novi sastanak Vučić-Kurti"
    )


@pytest.mark.parametrize(
    "titles",
    [
        pytest.param(["Kurti meets Vučić ~ Prishtina Insight Weekly"], id="one-page-is-no-pattern"),
        pytest.param(
            ["Talks in Brussels - Kosovo", "Protest in Pristina - Serbia", "Vote - Albania"],
            id="endings-that-differ",
        ),
    ],
)
def test_no_affix_learnt_without_a_shared_one(titles: list[str]) -> None:
    assert learn_affixes(titles) == ()


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        pytest.param(
            "Five key policies announced | Politics News | Metro News",
            "Five key policies announced",
            id="section",
        ),
        pytest.param(
            "A long headline about the vote | Metro News | by Ana",
            "A long headline about the vote",
            id="byline-after-site",
        ),
        pytest.param("Metro News | Headline", "Headline", id="prefix"),
        pytest.param("Metro News", "Metro News", id="nothing-but-the-name-is-kept"),
    ],
)
def test_strip_affixes(title: str, expected: str) -> None:
    assert strip_affixes(title, ["metronews"]) == expected
