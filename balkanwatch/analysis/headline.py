"""The article's headline, reconciled from everything a page says about it.

A page names its article in up to five places: the `<h1>` (or the big heading) the
reader sees, JSON-LD `headline`, og:title, twitter:title and `<title>`. They disagree
in known ways: `<title>` and og:title carry the site's name (" | CBC News",
"：朝日新聞デジタル") and sometimes a section; many templates put an SEO variant in an
`<h1>` hidden in the breadcrumb while the visible headline is an `<h2>`; an `<h1>`
may hold a kicker ("Minderheit in Syrien") in its own span above the headline.

The rules, in order:
1. the visible headline: the first `<h1>` outside navigation, logos and breadcrumbs,
   else a heading whose text is one of the declared titles;
2. if a declared title (JSON-LD, og, twitter, `<title>`, stripped of site affixes) has
   the same words as that visible headline, the declared form is kept: it carries the
   separator a two-line layout drops (“Ausschuss zur Ahrtal-Flut: Zwei Rücktritte”);
3. if the visible headline matches no declared title, and JSON-LD and og:title agree
   on one that neither contains it nor is contained in it (a kicker set outside the
   heading), the agreed title: the heading found is a rewrite or not the headline;
4. with no visible headline, the declared titles in the order above.

Site affixes are stripped from declared titles only (never from the visible text),
using og:site_name and other declared site names, the outlet's own title when the
caller knows it, the host name, and the affixes the outlet's other titles share
(`learn_affixes`), then a section label the outlet glues on with a bare hyphen
(`learn_glued_labels`). Punctuation and script stay as published. Pure; no I/O.

Measured on the dev pages: when h1, JSON-LD and og:title disagree, fundus's
per-publisher parsers keep og:title for some publishers and JSON-LD or the h1 for
others, in equal numbers; no rule over one page tells which, so the visible one stays.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from lxml.html import HtmlElement

from balkanwatch.analysis import jsonld, metadata
from balkanwatch.analysis.metadata import Declared, declared_text

# A separator between a headline and a site name or section: spaced dashes, bars,
# bullets and slashes, or the full-width forms CJK titles use unspaced. A colon only
# counts spaced on both sides: "Kosovo: talks resume" is a headline.
_SEPARATOR = re.compile(r"\s+(?:[|\-–—·•*/»~]|::|:)\s+|\s*[|｜ㅣ：]\s*")
_SKIP_ANCESTORS = frozenset({"nav", "footer", "aside", "button", "a"})
_NOT_HEADLINE = re.compile(r"logo|breadcrumb|masthead|site-?title|site-?name", re.I)
_HIDDEN = re.compile(
    r"sr-only|screen-?reader|visually-?hidden|offscreen|is_blind|a11y|hidden", re.I
)
_KICKER = re.compile(
    r"kicker|overline|topline|dachzeile|roofline|eyebrow|super-?title|pre-?title|spitzmarke",
    re.I,
)
_INLINE = frozenset({"a", "b", "strong", "i", "em", "u", "mark", "small", "sub", "sup", "wbr", "q"})
_MAX_LENGTH = 400  # longer "headlines" are teaser paragraphs
# a section label glued to the headline's end by a bare hyphen: "...커졌다-정치"
_GLUED_LABEL = re.compile(r"(?<=[^\s\-])-(\w{1,20}(?: \w{1,20})?)$")


@dataclass(frozen=True)
class Candidates:
    visible: str | None  # the headline text the reader sees, kicker removed
    shown: tuple[str, ...]  # forms of the visible heading: its parts, without and with kicker
    declared: tuple[str, ...]  # JSON-LD, og, twitter, <title>: affixes stripped, in that order
    agreed: str | None = None  # JSON-LD headline when og:title has its words: the declared one


def headline(
    tree: HtmlElement,
    url: str | None = None,
    *,
    site_title: str | None = None,
    known_titles: Iterable[str] = (),
) -> str | None:
    """The headline, or None when the page declares none.

    `site_title` is the outlet's name as configured; `known_titles` the raw `<title>`s
    of the outlet's other pages (see `page_title`), from which a shared affix is learned.
    """
    return choose(reconcile(tree, url, site_title=site_title, known_titles=known_titles))


def reconcile(
    tree: HtmlElement,
    url: str | None = None,
    *,
    site_title: str | None = None,
    known_titles: Iterable[str] = (),
    page: Declared | None = None,
) -> Candidates:
    """Everything `choose` decides from; the body uses `shown` to drop a repeated heading.
    `page`: the page's declarations when the caller has read them already."""
    page = page or metadata.declared(tree)
    known = tuple(title for title in known_titles if title)
    names = tuple(site_names(page, url, site_title))
    affixes, labels = _learned(known, names)
    return candidates(tree, page, names, affixes, labels)


@functools.lru_cache(maxsize=32)
def _learned(
    known: tuple[str, ...], names: tuple[str, ...]
) -> tuple[tuple[str, ...], frozenset[str]]:
    """Affixes and glued labels: in a crawl every page of an outlet brings the same stored
    titles, and learning from 50 of them costs a few ms a page; once per outlet costs none."""
    affixes = learn_affixes(known)
    return affixes, learn_glued_labels(known, names, affixes)


def page_title(tree: HtmlElement) -> str | None:
    """The raw `<title>`: what an outlet's pages share, kept for `learn_affixes`."""
    found = tree.find(".//title")
    return declared_text(found.text_content()) if found is not None else None


def choose(found: Candidates) -> str | None:
    for shown in found.shown:
        for declared in found.declared:
            if _words(declared) == _words(shown):
                return declared
    if found.visible and found.agreed and not _part_of(found.visible, found.agreed):
        # The heading taken for the visible one matches nothing the publisher declares,
        # while its JSON-LD and og:title (written for machines and for sharing, separately)
        # agree: the heading is another rewrite (a teaser, an A/B or a shortened variant) or
        # not the headline at all, and the agreed title is the article's.
        return found.agreed
    return found.visible or (found.declared[0] if found.declared else None)


def _part_of(one: str, other: str) -> bool:
    """Whether either title's words run inside the other's: a kicker or a section set outside
    the heading ("Krieg in Nahost: <visible>"), or a label the declared form adds."""
    a, b = " ".join(_words(one)), " ".join(_words(other))
    return f" {a} " in f" {b} " or f" {b} " in f" {a} "


def candidates(
    tree: HtmlElement,
    page: Declared,
    names: Sequence[str],
    affixes: Sequence[str],
    labels: Collection[str] = frozenset(),
) -> Candidates:
    titles = [_declared_headline(page), _meta(page, "og:title"), _meta(page, "twitter:title")]
    titles.append(page_title(tree))
    stripped = [_strip_all(text, names, affixes, labels) if text else None for text in titles]
    unique = tuple(dict.fromkeys(text for text in stripped if text))
    structured, social = stripped[0], stripped[1]
    agreed = structured if structured and social and _words(structured) == _words(social) else None
    heading = _visible_h1(tree, names)
    if heading is None:  # the h1 is SEO furniture: the headline shown is a declared title
        heading = _shown_heading(tree, {_words(text) for text in unique})
    if heading is None:
        return Candidates(visible=None, shown=(), declared=unique, agreed=agreed)
    visible = _text(heading, drop_kicker=True)
    return Candidates(visible or None, _forms(heading), unique, agreed)


def _forms(heading: HtmlElement) -> tuple[str, ...]:
    """A heading's parts (a kicker span, the headline span), then it without and with kicker."""
    parts = [
        _text(part, drop_kicker=True)
        for part in heading.iterdescendants()
        if isinstance(part.tag, str) and part.tag not in _INLINE
    ]
    whole = [_text(heading, drop_kicker=True), _text(heading, drop_kicker=False)]
    return tuple(dict.fromkeys(text for text in (*parts, *whole) if text))


# --- the visible headline --------------------------------------------------------------------


def _visible_h1(tree: HtmlElement, names: Sequence[str]) -> HtmlElement | None:
    shown = [
        h1 for h1 in tree.iter("h1") if _is_headline_element(h1) and not _names_the_site(h1, names)
    ]
    inside = [h1 for h1 in shown if _in_article(h1)]
    return (inside or shown or [None])[0]


def _is_headline_element(element: HtmlElement) -> bool:
    for node in (element, *element.iterancestors()):
        if node.tag in ("body", "html"):  # body classes say "wp-custom-logo" for the whole page
            break
        if node.tag in _SKIP_ANCESTORS or _NOT_HEADLINE.search(node.get("class") or ""):
            return False
    if _HIDDEN.search(element.get("class") or ""):
        return False
    text = _text(element, drop_kicker=False)
    return bool(text) and len(text) <= _MAX_LENGTH and len(_words(text)) >= 2


def _names_the_site(h1: HtmlElement, names: Sequence[str]) -> bool:
    """A masthead h1: the site's name, or only a link to the homepage."""
    if _fold(_text(h1, drop_kicker=False)) in names:
        return True
    links = h1.xpath(".//a[@href]")
    home = [a for a in links if urlsplit(a.get("href")).path in ("", "/")]
    return bool(home) and len(home) == len(links) and not (h1.text or "").strip()


def _in_article(element: HtmlElement) -> bool:
    for node in element.iterancestors():
        if node.tag in ("article", "main") or "Article" in (node.get("itemtype") or ""):
            return True
    return False


def _text(element: HtmlElement, *, drop_kicker: bool) -> str:
    """The heading as one line; with `drop_kicker`, only what shows large.

    Without it, the kicker and screen-reader-only separators stay in: together they are
    the one-line form a declared title may take ("Basketball-Euroleague: Nach ...").
    """
    parts: list[str] = []

    def walk(node: HtmlElement) -> None:
        if node is not element and drop_kicker:
            cls = node.get("class") or ""
            if _HIDDEN.search(cls) or node.get("aria-hidden") == "true" or _KICKER.search(cls):
                parts.append(" ")
                return
        if node.text:
            parts.append(node.text)
        for child in node:
            if isinstance(child.tag, str):
                spaced = child.tag not in _INLINE
                parts.append(" " if spaced else "")
                walk(child)
                parts.append(" " if spaced else "")
            if child.tail:
                parts.append(child.tail)

    walk(element)
    return declared_text("".join(parts)) or ""


def _shown_heading(tree: HtmlElement, declared: set[tuple[str, ...]]) -> HtmlElement | None:
    """The first h1-h3 outside navigation of which some form is a declared title."""
    for heading in tree.xpath("//h1 | //h2 | //h3"):
        if _is_headline_element(heading) and declared & {_words(t) for t in _forms(heading)}:
            return heading
    return None


# --- declared titles -------------------------------------------------------------------------


def _declared_headline(page: Declared) -> str | None:
    for node in page.articles:
        value = node.get("headline") or node.get("name")
        if isinstance(value, str) and (text := declared_text(value)):
            return text
    return None


def _meta(page: Declared, key: str) -> str | None:
    return declared_text(page.meta.get(key))


def site_names(page: Declared, url: str | None, site_title: str | None = None) -> list[str]:
    """Every name the site goes by on this page, folded for comparison."""
    names = [site_title, _meta(page, "og:site_name"), _meta(page, "application-name")]
    names.append((_meta(page, "twitter:site") or "").lstrip("@"))
    for node in page.nodes:
        publisher = node.get("publisher")
        if isinstance(publisher, dict):
            names.append(publisher.get("name"))
        if jsonld.types(node) & {"website", "organization", "newsmediaorganization"}:
            names.append(node.get("name"))
    host = urlsplit(url or _meta(page, "og:url") or "").hostname or ""
    names += [label for label in host.split(".")[:-1] if label not in ("www", "m", "amp")]
    folded = {_fold(name) for name in names if isinstance(name, str)}
    return sorted(name for name in folded if len(name) >= 3)


def strip_affixes(text: str, names: Sequence[str], affixes: Sequence[str] = ()) -> str:
    """The title without leading or trailing segments that name the site.

    A segment names the site when it contains one of `names`, is part of one, or is a
    learned affix; one short section label between the headline and the site name
    ("X - News - SRF", "X | Politics News | Metro News") goes with it.
    """
    segments = _segments(text)
    learned = set(affixes)

    def is_site(segment: str) -> bool:
        folded = _fold(segment)
        if folded in learned:
            return True
        return len(folded) >= 3 and any(name in folded or folded in name for name in names)

    # the first site segment after the headline ends it: what follows is a byline or a
    # channel ("X | The Gateway Pundit | by Cristina Laila")
    end = next((i for i in range(1, len(segments)) if is_site(segments[i][1])), len(segments))
    section = end < len(segments) and end > 1 and len(segments[end - 1][1].split()) <= 2
    if section and len(segments[end - 2][1].split()) > 3:  # what stays must read as a headline
        end -= 1
    start = 0
    while end - start > 1 and is_site(segments[start][1]):
        start += 1
    return text[segments[start][0] : segments[end - 1][0] + len(segments[end - 1][1])].strip()


def learn_affixes(titles: Iterable[str]) -> tuple[str, ...]:
    """Site segments the outlet's titles share: an affix is in at least two and a third.

    `titles` are the raw `<title>`s of the outlet's other pages. A segment (the text
    between separators) at the start or the end of most of them is the outlet's name or
    a fixed label; a headline word never is. Works from that outlet's pages alone.
    """
    counts: dict[str, int] = {}
    total = 0
    for title in titles:
        segments = [segment for _, segment in _segments(declared_text(title) or "")]
        if len(segments) < 2:
            total += 1
            continue
        total += 1
        for segment in {_fold(segments[0]), _fold(segments[-1])}:
            counts[segment] = counts.get(segment, 0) + 1
    needed = max(2, -(-total // 3))
    return tuple(sorted(s for s, n in counts.items() if n >= needed and s))


def learn_glued_labels(
    titles: Sequence[str], names: Sequence[str], affixes: Sequence[str]
) -> frozenset[str]:
    """Section labels the outlet glues to its headlines with a bare hyphen before its name.

    Some CMSs write "<headline>-정치ㅣ한국일보": the section ("politics") is not a segment
    of its own, so `learn_affixes` cannot see it, and it differs by section. The pattern
    is the outlet's when a third of its titles end so once the site's name is stripped;
    its labels are those seen there. A headline ending in a hyphenated compound before
    the site's name ("Vučić-Kurti | N1") is rare enough never to make a third.
    """
    found: Counter[str] = Counter()
    for title in titles:
        stripped = strip_affixes(title, names, affixes)
        if stripped != title and (match := _GLUED_LABEL.search(stripped)):
            found[_fold(match.group(1))] += 1
    if not found or 3 * sum(found.values()) < len(titles):
        return frozenset()
    return frozenset(found)


def _strip_all(
    text: str, names: Sequence[str], affixes: Sequence[str], labels: Collection[str]
) -> str:
    """The declared title without the site's affixes, then without a learned glued label."""
    stripped = strip_affixes(text, names, affixes)
    match = _GLUED_LABEL.search(stripped) if labels and stripped != text else None
    if match and _fold(match.group(1)) in labels:
        return stripped[: match.start()].rstrip()
    return stripped


def _segments(text: str) -> list[tuple[int, str]]:
    """(offset, segment) pairs between separators."""
    found: list[tuple[int, str]] = []
    position = 0
    for separator in _SEPARATOR.finditer(text):
        if separator.start() > position:
            found.append((position, text[position : separator.start()]))
        position = separator.end()
    if position < len(text):
        found.append((position, text[position:]))
    return found or [(0, text)]


# --- text ------------------------------------------------------------------------------------


def _fold(text: str) -> str:
    return "".join(re.findall(r"\w+", text.casefold()))


def _words(text: str) -> tuple[str, ...]:
    return tuple(re.findall(r"\w+", text.casefold()))
