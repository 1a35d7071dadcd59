"""What extraction learns from an outlet's own stored pages (issue 18): the site affix of its
titles and its furniture, learned through the real store and, end to end, a real crawl."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from balkanwatch.analysis.extract import extract_article
from balkanwatch.analysis.topics import TopicMatcher
from balkanwatch.core.config import Config, load_config
from balkanwatch.storage.store import Store
from crawler.items import ArticlePage
from pipelines.crawl import to_document
from pipelines.ingest import Ingester, build_index
from pipelines.outlet_hints import OutletHints
from tests.support import FixtureSite, crawl, rss, write_config

NOW = datetime.now(UTC)
PLACES = ["Tetovo", "Bitola", "Ohrid", "Kumanovo", "Štip", "Veles", "Struga", "Gostivar"]
WORDS = [
    "council", "budget", "roads", "school", "water", "teachers", "farmers", "court",
    "bridge", "museum", "hospital", "railway", "mayor", "strike", "winter", "market",
]  # fmt: skip


def paragraphs(n: int, count: int = 3) -> list[str]:
    """Story n's own paragraphs: no two stories share a line."""
    rng = random.Random(n)
    return [
        f"{PLACES[n % len(PLACES)]} {n}: " + " ".join(rng.choice(WORDS) for _ in range(40)) + "."
        for _ in range(count)
    ]


# --- the site affix, from the outlet's stored <title>s ---------------------------------------

AFFIX = "Dnevni Pregled Online"  # not the configured title, not og:site_name, not the host


def affixed_page(headline: str, paras: list[str]) -> str:
    """No h1: the headline is an h2, the declared titles carry the site's affix."""
    text = "\n".join(f"<p>{p}</p>" for p in paras)
    return f"""<!DOCTYPE html><html lang="mk"><head><meta charset="utf-8">
<title>{headline} ~ {AFFIX}</title><meta property="og:title" content="{headline} ~ {AFFIX}">
</head><body><main><article><h2>{headline}</h2>{text}</article></main></body></html>"""


def store_page(ingester: Ingester, config: Config, outlet: str, n: int, html: str) -> None:
    url = f"{config.outlet(outlet).homepage}vesti/{n}"
    hints = OutletHints(ingester.store).of(config.outlet(outlet)).arguments()
    extracted = extract_article(html, url, **hints)
    assert extracted is not None
    page = ArticlePage(url, outlet, html.encode(), "utf-8", url, "2026-12-01T10:00:00+00:00")
    ingester.ingest(to_document(page, extracted, config.outlet(outlet)))


def test_site_suffix_is_stripped_using_only_the_outlets_other_pages(tmp_path: Path) -> None:
    outlets = [
        {"name": "pregled", "title": "Vesti MK", "homepage": "https://portal.example/"},
        {"name": "other", "title": "Other", "homepage": "https://other.example/"},
    ]
    config = load_config(write_config(tmp_path / "cfg", outlets), env={})
    store = Store(config.database)
    ingester = Ingester(store, config, TopicMatcher(config.topics), build_index(store, 7))
    headline = "Нов мост преку Вардар во Велес"
    html = affixed_page(headline, paragraphs(99))

    alone = extract_article(html, "https://portal.example/vesti/99", site_title="Vesti MK")
    assert alone is not None and alone.title == f"{headline} ~ {AFFIX}"  # the page cannot tell

    for n in range(3):  # another outlet's pages with the same affix teach "pregled" nothing
        store_page(
            ingester, config, "other", n, affixed_page(f"Вест број {n} од Охрид", paragraphs(n))
        )
    hints = OutletHints(store).of(config.outlet("pregled"))
    assert hints.known_titles == ()
    for n in range(3, 6):
        store_page(
            ingester, config, "pregled", n, affixed_page(f"Вест {n} од Битола", paragraphs(n))
        )
    hints = OutletHints(store).of(config.outlet("pregled"))
    assert len(hints.known_titles) == 3 and all(AFFIX in t for t in hints.known_titles)

    learned = extract_article(html, "https://portal.example/vesti/99", **hints.arguments())
    assert learned is not None and learned.title == headline
    assert learned.page_title == f"{headline} ~ {AFFIX}"  # stored raw: the next page learns it


# --- furniture, learned across crawls of a loopback outlet -----------------------------------

BYLINE = "Written by Marta Kovač for the Fixture News desk in Skopje"
NEWSLETTER = "Sign up for the Balkan Morning newsletter and get the region's news before breakfast."
READ_ALSO = [  # inline, between paragraphs, as many of the region's outlets place them
    "Read also: Parliament passes the budget after a long night",
    "Read also: Border crossings reopen after the snowstorm",
]
BOXES = [BYLINE, NEWSLETTER, *READ_ALSO]


def boxed_page(title: str, paras: list[str]) -> str:
    """An article whose template puts the outlet's boxes inside the article container, where
    trafilatura keeps them."""
    links = [
        f'<p>Read also: <a href="/2026/01/0{i}/x">{line.split(": ", 1)[1]}</a></p>'
        for i, line in enumerate(READ_ALSO)
    ]
    text = f"<p>{paras[0]}</p>{links[0]}<p>{paras[1]}</p>{links[1]}"
    text += "".join(f"<p>{p}</p>" for p in paras[2:])
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>{title} | Fixture News</title></head><body><main><article><h1>{title}</h1>
<p>{BYLINE}</p>{text}<div><p>{NEWSLETTER}</p></div></article></main></body></html>"""


def publish(site: FixtureSite, numbers: range, version: str) -> str:
    items = []
    for n in numbers:
        path, title = f"/2026/12/01/story-{n}", f"Story {n} from {PLACES[n % len(PLACES)]}"
        site.add(path, boxed_page(title, paragraphs(n)))
        when = format_datetime(NOW - timedelta(minutes=n + 1))
        items.append({"title": title, "link": site.url(path), "pubDate": when})
    return site.add("/feed/", rss(items), content_type="application/rss+xml", etag=version)


def stored(store: Store, numbers: range) -> list[str]:
    """The stored texts of these stories, in their order."""
    texts = {
        r["url"].rsplit("-", 1)[-1]: r["text"] for r in store.rows("SELECT url, text FROM articles")
    }
    return [texts[str(n)] for n in numbers if str(n) in texts]


def test_furniture_learned_from_stored_pages_is_left_out_of_new_ones(
    tmp_path: Path, make_site: Callable[[str], FixtureSite]
) -> None:
    site = make_site("127.0.0.3")
    outlet = {"name": "fixture", "title": "Fixture News", "homepage": site.url("/")}
    feed = publish(site, range(6), '"v1"')
    cfg = write_config(tmp_path / "cfg", [{**outlet, "language": "en", "feeds": [feed]}])
    first = crawl(cfg)
    assert first.returncode == 0, first.stderr[-3000:]
    store = Store(load_config(cfg, env={}).database)
    texts = stored(store, range(6))
    assert len(texts) == 6
    # nothing learned yet: trafilatura keeps the boxes, which is what learning must fix
    assert all(box in text for text in texts for box in BOXES)

    publish(site, range(6, 9), '"v2"')
    second = crawl(cfg)
    assert second.returncode == 0, second.stderr[-3000:]
    texts = stored(store, range(6, 9))
    assert len(texts) == 3
    for n, text in zip(range(6, 9), texts, strict=True):
        assert not any(box in text for box in BOXES), text
        assert all(p in text for p in paragraphs(n))  # the story itself is whole
        assert text.startswith(f"Story {n} from ")
    # the dropped lines are kept, so the next crawl still knows them for furniture
    bodies = store.outlet_recent("fixture").bodies
    assert all(box in body for body in bodies[:3] for box in BOXES)
