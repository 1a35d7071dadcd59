"""Synthetic news outlets for the benchmarks: realistic article pages (10-150 KB, with the scripts,
navigation, related lists and comments of real news pages) and a feed per outlet, served by a
separate process so the server's CPU does not count against the crawl.
"""

from __future__ import annotations

import functools
import json
import multiprocessing
import random
import re
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SENTENCES = [
    json.loads(line)["text"]
    for line in (ROOT / "tests" / "data" / "topics_corpus.jsonl").read_text("utf-8").splitlines()
] + [
    line.strip()
    for seed in sorted((ROOT / "tests" / "fixtures" / "seeds").glob("*.txt"))
    for line in seed.read_text(encoding="utf-8").splitlines()
    if len(line.split()) > 8
]


HOMEPAGES = sorted((ROOT / "tests" / "fixtures" / "homepages").glob("*.html"))
MARK = "<!--ARTICLE-->"


def _chromes(variants: int = 12) -> list[str]:
    """Page furniture from real outlet homepages (menus, widgets, scripts, footers), cut to
    different sizes, with a marker where the article goes."""
    import lxml.html

    rng = random.Random(7)
    out = []
    for path in HOMEPAGES:
        for v in range(variants):
            tree = lxml.html.fromstring(path.read_bytes())
            body = tree.find("body")
            if body is None:
                continue
            kids = list(body)
            keep = (v + 1) / variants
            for kid in kids:
                if rng.random() > keep:
                    body.remove(kid)
            slot = lxml.html.fromstring("<div id='article-slot'></div>")
            body.insert(min(2, len(body)), slot)
            html = lxml.html.tostring(tree, encoding="unicode")
            out.append(html.replace('<div id="article-slot"></div>', MARK))
    return out


CHROMES: list[str] = []


def article_html(rng: random.Random, n: int, outlet: int) -> tuple[str, str]:
    """(title, page) for article n: 4-30 paragraphs inside a real outlet's page furniture."""
    if not CHROMES:
        CHROMES.extend(_chromes())
    title = " ".join(rng.choice(SENTENCES).split()[:10]).rstrip(".,") + f" ({outlet}-{n})"
    paras = [
        " ".join(rng.choice(SENTENCES) for _ in range(rng.randint(2, 5)))
        for _ in range(rng.randint(4, 30))
    ]
    body = "".join(
        f"<p>{p}</p>" if i % 6 else f"<h2>{p[:60]}</h2><p>{p}</p>" for i, p in enumerate(paras)
    )
    article = (
        f'<article><h1>{title}</h1><div class="byline">By Staff</div>{body}'
        '<div class="share">Share Facebook X WhatsApp</div></article>'
    )
    chrome = rng.choice(CHROMES)
    head_meta = (
        f'<meta property="og:title" content="{title}">'
        f'<meta property="article:published_time" content="2026-11-30T{n % 24:02d}:00:00+01:00">'
        f"<title>{title}</title>"
    )
    page = chrome.replace("<head>", "<head>" + head_meta, 1).replace(MARK, article, 1)
    return title, page


def build_outlet(outlet: int, pages: int, seed: int = 1) -> dict[str, bytes]:
    """Routes of one outlet: /feed/ with every article, and the article pages."""
    rng = random.Random(seed * 1000 + outlet)
    routes: dict[str, bytes] = {}
    items = []
    now = datetime.now(UTC)
    for n in range(pages):
        title, page = article_html(rng, n, outlet)
        path = f"/2026/11/30/article-{n}"
        routes[path] = page.encode()
        items.append((title, path, format_datetime(now - timedelta(minutes=n))))
    return routes | {"/feed/": b""} | {"__items__": json.dumps(items).encode()}


def _serve(host: str, routes: dict[str, bytes], ready: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    from tests.support import FixtureSite, rss

    site = FixtureSite(host)
    items = json.loads(routes.pop("__items__"))
    routes.pop("/feed/")
    for path, body in routes.items():
        site.add(path, body)
    site.add(
        "/feed/",
        rss([{"title": t, "link": site.url(p), "pubDate": d} for t, p, d in items]),
        content_type="application/rss+xml",
        etag='"bench"',
    )
    ready.put(site.port)
    site.thread.join()


def serve_outlets(outlets: list[dict[str, bytes]], first_host: int = 50) -> tuple[list[str], list]:
    """Serve each outlet from its own process on 127.0.0.N; returns base URLs and the processes."""
    ctx = multiprocessing.get_context("spawn")
    bases, procs = [], []
    for i, routes in enumerate(outlets):
        host = f"127.0.0.{first_host + i}"
        ready = ctx.Queue()
        proc = ctx.Process(target=_serve, args=(host, routes, ready), daemon=True)
        proc.start()
        bases.append(f"http://{host}:{ready.get(timeout=60)}")
        procs.append(proc)
    return bases, procs


def page_bodies(outlets: list[dict[str, bytes]]) -> list[bytes]:
    return [b for routes in outlets for p, b in routes.items() if p.startswith("/2026/")]


def local_outlets(bases: list[str], prefix: str, concurrency: int) -> list[dict[str, object]]:
    """outlets.yaml entries for benchmark servers: a feed each, no politeness delay (they are
    ours, on loopback), `concurrency` requests at a time."""
    return [
        {
            "name": f"{prefix}{i}",
            "homepage": base + "/",
            "feeds": [base + "/feed/"],
            "crawl_delay": 0,
            "concurrency": concurrency,
        }
        for i, base in enumerate(bases)
    ]


# --- real pages -------------------------------------------------------------------------------

REAL = ROOT / "tests" / "data" / "extraction-dev"
BALKAN = [
    *HOMEPAGES,  # real Balkan homepages: their furniture, no single article
    *sorted((ROOT / "tests" / "fixtures" / "pages").glob("*.html")),  # Balkan CMS shapes
]
_FILLER = [
    "council",
    "budget",
    "river",
    "bridge",
    "school",
    "hospital",
    "road",
    "station",
    "market",
    "harbour",
    "festival",
    "court",
    "library",
    "stadium",
    "railway",
    "ministry",
    "museum",
    "factory",
    "village",
    "airport",
]


def real_pages() -> list[bytes]:
    """The real article HTML of tests/data/extraction-dev, then the Balkan fixtures, as bytes."""
    import gzip

    rows = [json.loads(line) for line in (REAL / "pages.jsonl").read_text("utf-8").splitlines()]
    pages = [gzip.decompress((REAL / row["file"]).read_bytes()) for row in rows]
    return pages + [path.read_bytes() for path in BALKAN]


def replica(page: bytes, copy: int, index: int, at: int | None = None) -> bytes:
    """The page with a paragraph of its own after its middle paragraph (in the body, for most
    pages), so no copy is an exact duplicate of another, and its canonical URL (when it declares
    one) made its own: a relative canonical link would resolve to the same URL on the outlet for
    every copy, which the crawl rightly stores as one article. ASCII, whatever the page's
    charset. `at`: insert_at(page), when the caller keeps it."""
    rng = random.Random(copy * 100_003 + index)
    words = " ".join(rng.choice(_FILLER) for _ in range(24))
    para = f"<p>Copy {copy} of page {index}: the {words}.</p>".encode()
    at = insert_at(page) if at is None else at
    head_end = page.find(b"</head")
    head_end = head_end if 0 <= head_end < at else 0
    head = _CANONICAL.sub(
        lambda m: m[1] + m[2] + (b"&" if b"?" in m[2] else b"?") + b"copy=%d" % copy,
        page[:head_end],
    )
    return head + page[head_end:at] + para + page[at:]


# href of <link rel="canonical"> and content of <meta property="og:url">, either attribute first
_CANONICAL = re.compile(
    rb"""(<(?:link|meta)\b(?=[^>]*(?:\bcanonical\b|og:url))[^>]*?\b(?:href|content)\s*=\s*["'])"""
    rb"""([^"'#]*)""",
    re.IGNORECASE,
)


def insert_at(page: bytes) -> int:
    """Where replica inserts its paragraph: after the middle </p>, else before </body>."""
    ends = [m.end() for m in re.finditer(rb"</p\s*>", page, re.IGNORECASE)]
    if ends:
        return ends[len(ends) // 2]
    at = page.lower().rfind(b"</body")
    return at if at >= 0 else len(page)


@dataclass(frozen=True)
class Entry:
    """One article of a real-page outlet: its path, which real page, which copy."""

    path: str
    index: int
    copy: int


def real_plan(outlets: int, pages: int, base: int) -> list[list[Entry]]:
    """`pages` articles dealt round-robin over `outlets`: copy c of real page i is article
    c * base + i, so every page appears about equally often and each copy is unique."""
    plan: list[list[Entry]] = [[] for _ in range(outlets)]
    for n in range(pages):
        copy, index = divmod(n, base)
        plan[n % outlets].append(Entry(f"/news/{copy}/{index}", index, copy))
    return plan


def _serve_real(hosts: list[str], plan: list[list[Entry]], ready: Any) -> None:
    from tests.support import FixtureSite, rss

    pages = real_pages()
    offsets = [insert_at(page) for page in pages]  # the server's CPU is the crawl's machine's
    now = datetime.now(UTC)
    for host, entries, homepage in zip(hosts, plan, _cycle(HOMEPAGES), strict=False):
        site = FixtureSite(host)
        site.add("/", homepage.read_bytes(), content_type="text/html; charset=utf-8")
        for e in entries:
            # Built on request: the copies are not all held in memory at once.
            body = functools.partial(replica, pages[e.index], e.copy, e.index, offsets[e.index])
            site.add(e.path, body, content_type="text/html; charset=utf-8")
        dates = [now - timedelta(minutes=k) for k in range(len(entries))]
        # A feed with the latest articles and a sitemap with all of them, as news sites have.
        site.add(
            "/feed/",
            rss(
                [
                    {"title": f"Article {e.copy}-{e.index}", "link": site.url(e.path),
                     "pubDate": format_datetime(when)}
                    for e, when in list(zip(entries, dates, strict=True))[:50]
                ]
            ),
            content_type="application/rss+xml",
        )  # fmt: skip
        site.add("/sitemap.xml", _urlset(site, entries, dates), content_type="application/xml")
        ready.put(site.base)
    threading.Event().wait()


def _urlset(site: Any, entries: list[Entry], dates: list[datetime]) -> str:
    urls = "".join(
        f"<url><loc>{site.url(e.path)}</loc><lastmod>{when.isoformat()}</lastmod></url>"
        for e, when in zip(entries, dates, strict=True)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
    )


def _cycle(items: list[Path]) -> Iterator[Path]:
    while True:
        yield from items


def serve_real(plan: list[list[Entry]], first_host: int = 60) -> tuple[list[str], Any]:
    """Serve the real-page outlets on 127.0.0.N from one separate process (its CPU does not
    count against the crawl); returns their base URLs and the process."""
    ctx = multiprocessing.get_context("spawn")
    hosts = [f"127.0.0.{first_host + i}" for i in range(len(plan))]
    ready = ctx.Queue()
    proc = ctx.Process(target=_serve_real, args=(hosts, plan, ready), daemon=True)
    proc.start()
    return [ready.get(timeout=120) for _ in hosts], proc


def real_outlets(bases: list[str], concurrency: int) -> list[dict[str, object]]:
    """outlets.yaml entries for the real-page outlets: a feed and a sitemap each."""
    outlets = local_outlets(bases, "real", concurrency)
    for outlet, base in zip(outlets, bases, strict=True):
        outlet["sitemaps"] = [base + "/sitemap.xml"]
    return outlets
