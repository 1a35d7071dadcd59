"""Which links of a homepage lead to articles, judged without examples from URL and page.

No single regex fits every outlet (dated WordPress permalinks, ``/section/81640/slug/``,
``/a/29104034.html``, bare ``/headline-slug/``), so each link is scored on evidence that news
sites share, and every verdict says which evidence decided it:

- the URL: an identity of its own (a date path, a numeric id, a slug ending in an id, an id
  query parameter) or a slug of several words; navigation words (category, tag, author, ...)
  veto it, a one-word path is a section;
- the page: the anchor's text (a headline has several words, a menu entry one or two);
- siblings: links sharing the URL's path template (``/{word}/{id}/{slug}/``) are judged
  together, since a site lays its articles out one way: a template most of whose links are
  confident articles lifts its weaker members, a template of one- and two-word names (teams,
  horoscope signs) sinks them, and a template whose items repeat one slug under new ids is a
  programme or gallery series, not news;
- blocks: links repeated in one page block (same ancestor tags and classes) whose texts are
  one or two words are a menu.

With example article URLs of the outlet (three or more), the outlet's learned URL templates
decide instead (``balkanwatch.analysis.urltemplates``), the page's vetoes still applying.
Pure functions over lxml; no network.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from statistics import median
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree

from balkanwatch.analysis.urls import canonical_url, is_own_domain
from balkanwatch.analysis.urltemplates import (
    Token,
    UrlFilter,
    learn_templates,
    path_tokens,
    query_ids,
)

__all__ = [
    "NAVIGATION_SEGMENTS",
    "Verdict",
    "article_urls",
    "classify_links",
    "is_asset",
    "judge_url",
]

# Path segments that make a page a listing, an account page or a file store, whatever else
# its URL looks like. In the region's languages too: sq kategoria/etiketa/kerko/arkiva,
# sr/bs/hr kategorija/rubrika/oznaka/autor/pretraga/arhiva, mk in Latin slugs.
NAVIGATION_SEGMENTS = frozenset(
    """
    category categories kategori kategoria kategorite kategorija kategorije rubrika rubrike
    tag tags etiketa etiketat oznaka oznake tema teme topic
    topics author authors autor autori autore page pages faqe faqja stranica strana search
    kerko kërko pretraga trazi pretrazivanje login logout signin sign-in signup sign-up
    register registration account accounts profile user users wp-admin wp-content
    wp-includes wp-json wp-login.php xmlrpc.php static media assets uploads cdn-cgi feed
    feeds rss atom archive archives arkiva arkivi arhiva arhive contact kontakt about
    impressum privacy privacy-policy cookies terms newsletter subscribe abonohu
    """.split()  # noqa: SIM905 - a word list reads better than 90 quoted strings
)
NAVIGATION_QUERY_KEYS = frozenset({"s", "q", "query", "search", "replytocom", "share"})
ASSET_EXTENSIONS = frozenset(
    """
    jpg jpeg png gif webp svg ico bmp tif tiff avif css js mjs json xml rss atom pdf doc docx
    xls xlsx ppt pptx zip gz rar 7z mp3 mp4 m4a m4v ogg wav webm mov avi flv woff woff2 ttf eot
    exe apk dmg txt
    """.split()  # noqa: SIM905
)

ARTICLE_SCORE = 3.0  # the score from which a link is an article
_PAGE_SAYS_NO = -2.0  # with examples: a score this low overrules a template match
_WORD_RE = re.compile(r"[^\W\d_]+")
_DIGITS_RE = re.compile(r"\d+")


@dataclass(frozen=True)
class Verdict:
    """A homepage link and whether it leads to an article, with the evidence."""

    url: str
    article: bool
    score: float
    evidence: str
    title: str | None = None


@dataclass
class _Link:
    """Everything the page says about one URL (it may be linked several times)."""

    url: str
    tokens: list[Token]
    query: dict[str, int]
    title: str | None = None
    rank: int = 9
    words: int = 0
    blocks: set[tuple[str, ...]] = field(default_factory=set)


def is_asset(url: str) -> bool:
    last = urlsplit(url).path.rsplit("/", 1)[-1]
    stem, dot, extension = last.rpartition(".")
    return bool(dot and stem) and extension.lower() in ASSET_EXTENSIONS


def judge_url(url: str) -> tuple[float, str]:
    """What a URL alone says (no page): a navigation or asset URL scores -10, an identity
    (date, id, slug with an id) 3, a long headline slug 2, a section name below 0."""
    if is_asset(url):
        return -10.0, "a file, not a page"
    link = _Link(url, path_tokens(url), query_ids(url))
    if veto := _veto(link):
        return -10.0, veto
    return _url_score(link)


def article_urls(
    html: bytes | str,
    base_url: str,
    domains: Iterable[str] | None = None,
    examples: Sequence[str] = (),
) -> list[str]:
    """The article URLs of a page, canonical, in page order."""
    return [v.url for v in classify_links(html, base_url, domains, examples) if v.article]


def classify_links(
    html: bytes | str,
    base_url: str,
    domains: Iterable[str] | None = None,
    examples: Sequence[str] = (),
) -> list[Verdict]:
    """A verdict for every distinct link to the outlet's own domains, in page order.

    ``domains`` defaults to the base URL's host. ``examples`` are article URLs of the outlet
    (from its feed or sitemap, or given by hand); from three on, its learned templates decide.
    """
    doc = _parse(html)
    if doc is None:
        return []
    own = list(domains) if domains is not None else [urlsplit(base_url).hostname or ""]
    links = _collect(doc, _base(doc, base_url), own)
    cold = _score_cold(links)
    url_filter = learn_templates(examples)
    if not url_filter:
        return [
            Verdict(link.url, score >= ARTICLE_SCORE, score, why, link.title)
            for link, (score, why) in zip(links, cold, strict=True)
        ]
    return _warm(links, cold, url_filter)


# --- the page ------------------------------------------------------------------------------


def _parse(html: bytes | str) -> lxml.html.HtmlElement | None:
    if not (html.strip() if isinstance(html, str) else html.strip()):
        return None
    try:
        doc = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return None
    etree.strip_elements(doc, "script", "style", "noscript", "template", with_tail=False)
    return doc


def _base(doc: lxml.html.HtmlElement, base_url: str) -> str:
    for element in doc.iter("base"):
        if href := (element.get("href") or "").strip():
            return urljoin(base_url, href)
    return base_url


def _collect(doc: lxml.html.HtmlElement, base: str, domains: list[str]) -> list[_Link]:
    links: dict[str, _Link] = {}
    for anchor in doc.iter("a"):
        href = (anchor.get("href") or "").strip()
        if not href or href.startswith("#"):
            continue
        url = urljoin(base, href)
        if urlsplit(url).scheme not in ("http", "https"):
            continue
        url = canonical_url(url)
        if not is_own_domain(url, domains) or is_asset(url):
            continue
        link = links.get(url)
        if link is None:
            link = links[url] = _Link(url, path_tokens(url), query_ids(url))
        rank, title = anchor_title(anchor)
        if title and rank < link.rank:
            link.rank, link.title = rank, title
        link.words = max(link.words, len(_WORD_RE.findall(title or "")))
        link.blocks.add(_block(anchor))
    return list(links.values())


def anchor_title(anchor: lxml.html.HtmlElement) -> tuple[int, str | None]:
    """(rank, text): a heading inside the anchor, its text, its title, an image's alt."""
    for heading in anchor.iter("h1", "h2", "h3", "h4", "h5", "h6"):
        if text := _squash(heading.text_content()):
            return 0, text
    if text := _squash(anchor.text_content()):
        return 1, text
    if text := _squash(anchor.get("title")):
        return 2, text
    for image in anchor.iter("img"):
        if text := _squash(image.get("alt")):
            return 3, text
    return 9, None


def _squash(text: str | None) -> str:
    return " ".join(text.split()) if text else ""


def _block(anchor: lxml.html.HtmlElement, depth: int = 3) -> tuple[str, ...]:
    """The anchor's place in the page: its ancestors' tags and classes (digits dropped)."""
    path: list[str] = []
    node = anchor.getparent()
    while node is not None and len(path) < depth:
        classes = " ".join(sorted(re.sub(r"\d+", "", c) for c in (node.get("class") or "").split()))
        path.append(f"{node.tag}.{classes}")
        node = node.getparent()
    return tuple(path)


# --- cold scoring --------------------------------------------------------------------------


def _template_key(link: _Link) -> tuple[str, ...]:
    """The link's path template with section names kept: siblings share it."""
    # Section names are kept, but not in the last place: /foto-ditore/georgia/ and
    # /foto-ditore/nick-4/ are siblings, whatever words name them. Script names
    # (news.php, galerija.php) are kept wherever they are.
    last = len(link.tokens) - 1
    parts = [
        f"{t.literal}.{t.ext}"
        if t.cls == "word" and (i < last or t.ext)
        else f"{{{'text' if t.cls in ('word', 'slug') else t.cls}}}.{t.ext}"
        for i, t in enumerate(link.tokens)
    ]
    return (*parts, *sorted(link.query), "/" if urlsplit(link.url).path.endswith("/") else "")


def _veto(link: _Link) -> str | None:
    parts = urlsplit(link.url)
    if not link.tokens and not link.query:
        return "a site's front page"
    segments = {s.lower() for s in parts.path.split("/") if s}
    if segments & NAVIGATION_SEGMENTS:
        return "navigation segment"
    keys = {q.partition("=")[0].lower() for q in parts.query.split("&") if q}
    if keys & NAVIGATION_QUERY_KEYS:
        return "search or share link"
    return None


def _identity(link: _Link) -> str | None:
    """What in the URL names one item, if anything."""
    if link.query:
        return f"id parameter {next(iter(link.query))}="
    tokens = link.tokens
    classes = [t.cls for t in tokens]
    for i, token in enumerate(tokens):
        if token.cls in ("date", "dateslug"):
            return "date in the path"
        if token.cls == "year" and i + 2 < len(tokens) and classes[i + 1] == "num2":
            # /2024/05/17/ alone is a day's archive: something must follow the date.
            rest = classes[i + 2 :]
            if rest and rest != ["num2"]:
                return "date path"
        if token.cls == "slugid":
            return "slug with an id"
        if token.cls == "id":
            last = i == len(tokens) - 1
            # A short bare number at the end after a word is a section id (/z/16983).
            if token.ext or not last or token.digits >= 6:
                return "numeric id"
    return None


def _url_score(link: _Link) -> tuple[float, str]:
    if identity := _identity(link):
        return 3.0, identity
    tokens = link.tokens
    slugs = [t for t in tokens if t.cls == "slug"]
    if slugs:
        words = slugs[-1].words
        if tokens[-1].cls == "slug" and words >= 4:
            return 2.0, f"{words}-word slug"
        if tokens[-1].cls == "slug" and words == 3:
            return 1.0, "3-word slug"
        return 0.0, f"{words}-word name"
    if len(tokens) == 1:
        return -2.0, "one-word path (a section)"
    return -1.0, "path of words only"


def _text_score(words: int) -> float:
    if words >= 5:
        return 2.0
    if words == 4:
        return 1.0
    if words == 3 or words == 0:
        return 0.0
    return -1.0


def _series(links: list[_Link], groups: dict[tuple[str, ...], list[int]]) -> set[int]:
    """Links of a template that repeats one slug or title under different ids: episodes of
    a programme or a weekly gallery, named after the series rather than the news."""
    found: set[int] = set()
    for members in groups.values():
        names: dict[str, set[str]] = defaultdict(set)
        for i in members:
            link = links[i]
            ident = " ".join(_DIGITS_RE.findall(link.url))
            for key in _names(link):
                names[key].add(ident)
        repeated = {key for key, idents in names.items() if len(idents) >= 2}
        members_in_series = [i for i in members if _names(links[i]) & repeated]
        found.update(members_in_series)
        # A list that repeats titles and names its items in three words or fewer is a
        # broadcast schedule or a gallery strip: all of it, not only the repeats.
        texts = [links[i].words for i in members if links[i].words]
        if len(members_in_series) >= max(2, len(members) // 5) and texts and median(texts) <= 3:
            found.update(members)
    return found


def _names(link: _Link) -> set[str]:
    """The link's title and slug in letters only: episode numbers and times do not count."""
    return {
        name
        for text in ((link.title or "").lower(), _slug_text(link))
        if (name := " ".join(_WORD_RE.findall(text)))
    }


def _slug_text(link: _Link) -> str:
    path = urlsplit(link.url).path.lower().strip("/").split("/")
    slugs = [p for p in path if "-" in p or "_" in p]
    return slugs[-1] if slugs else ""


def _score_cold(links: list[_Link]) -> list[tuple[float, str]]:
    groups: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for i, link in enumerate(links):
        groups[_template_key(link)].append(i)
    block_words: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for link in links:
        for block in link.blocks:
            block_words[block].append(link.words)
    series = _series(links, groups)
    base: list[tuple[float, list[str]]] = []
    for link in links:
        url_points, url_why = _url_score(link)
        text_points = _text_score(link.words)
        why = [url_why, f"anchor text {link.words} words"]
        base.append((url_points + text_points, why))
    results: list[tuple[float, str]] = []
    for i, link in enumerate(links):
        score, why = base[i]
        if veto := _veto(link):
            results.append((-9.0, veto))
            continue
        if i in series:
            results.append((-9.0, "one title repeated under new ids (a programme or series)"))
            continue
        members = groups[_template_key(link)]
        if len(members) >= 3:
            texts = [links[j].words for j in members if links[j].words]
            confident = sum(base[j][0] >= ARTICLE_SCORE for j in members) / len(members)
            if texts and median(texts) <= 2:
                score -= 2
                why.append(f"{len(members)} siblings named in one or two words")
            elif confident >= 0.6:
                score += 2
                why.append(f"{len(members)} siblings share the template, most articles")
        menus = [b for b in link.blocks if len(block_words[b]) >= 4 and median(block_words[b]) <= 2]
        if menus and len(menus) == len(link.blocks):
            score -= 1
            why.append("in a menu block")
        results.append((score, "; ".join(why)))
    return results


# --- with examples -------------------------------------------------------------------------


def _shape(tokens: list[Token]) -> tuple[str, ...]:
    return tuple("text" if t.cls in ("word", "slug") else f"{t.cls}.{t.ext}" for t in tokens)


def _warm(
    links: list[_Link], cold: list[tuple[float, str]], url_filter: UrlFilter
) -> list[Verdict]:
    """Learned templates decide; the page's vetoes (navigation, series) still hold, and a link
    the page is sure of counts when its shape is one of the templates' (another section)."""
    shapes = {
        tuple(
            "text" if s.cls in ("word", "slug", "segment") else f"{s.cls}.{s.ext}" for s in t.slots
        )
        for t in url_filter.templates
    }
    verdicts = []
    for link, (score, why) in zip(links, cold, strict=True):
        if score <= -9:
            verdicts.append(Verdict(link.url, False, score, why, link.title))
        elif score <= _PAGE_SAYS_NO and url_filter.matches(link.url):
            # the URL has the articles' shape, but the page lists it among menus or names
            verdicts.append(Verdict(link.url, False, score, f"template, but {why}", link.title))
        elif url_filter.matches(link.url):
            verdicts.append(
                Verdict(link.url, True, score, "matches a learned template", link.title)
            )
        elif score >= ARTICLE_SCORE and _shape(link.tokens) in shapes:
            verdicts.append(
                Verdict(link.url, True, score, f"a learned template's shape; {why}", link.title)
            )
        else:
            verdicts.append(
                Verdict(link.url, False, score, f"no learned template; {why}", link.title)
            )
    return verdicts


def scores_by_url(verdicts: Iterable[Verdict]) -> Counter[str]:
    """Article URLs counted by the first path segment: a summary for evidence lines."""
    counts: Counter[str] = Counter()
    for verdict in verdicts:
        if verdict.article:
            segments = [s for s in urlsplit(verdict.url).path.split("/") if s]
            counts["/" + (segments[0] if len(segments) > 1 else "")] += 1
    return counts
