"""Body text checks that need more than one extractor's view: JSON-LD and the outlet's pages.

trafilatura decides from markup alone. Two other witnesses often know better:
- the publisher's JSON-LD `articleBody`, which many CMSs fill with the full article
  text (and some with a teaser, or with the text plus every caption);
- the outlet's other stored articles: a line that recurs across them (a byline
  formula, a newsletter box, "Read also", a photo credit) is template, not story.

Both are used only to remove lines, never to rewrite sentences, so the seed form
(headings, `- ` items, `|` rows) survives. Pure functions over text; the caller
supplies the witnesses.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterable

from lxml.html import HtmlElement

from balkanwatch.analysis.metadata import Declared, declared_text

_SHINGLE = 4
_MIN_SHINGLES = 30  # a shorter articleBody is a teaser: it says nothing about the rest
_COVERED = 0.8  # share of the extracted text that must be in articleBody to trust it
_LINE_KEPT = 0.5
_TAIL_COVERED = 0.9
_TAIL_GROWTH = 1.3  # articleBody this much longer, with ours inside it: we stopped early
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
_LEAD_MIN_SHINGLES = 5
_MAX_HITS = 20
_CLIMB = 4  # a lead's text sits in its <p> or a <strong>/<span>/<a> within it
_DESCRIPTIONS = ("og:description", "description", "twitter:description")
_SKIP_ANCESTORS = frozenset({"nav", "footer", "aside", "script", "noscript", "template"})


def shingles(text: str) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.casefold())
    if len(words) < _SHINGLE:
        return {tuple(words)} if words else set()
    return {tuple(words[i : i + _SHINGLE]) for i in range(len(words) - _SHINGLE + 1)}


def reconcile_with_article_body(body: str, article_body: str | None) -> str:
    """The body checked against the publisher's own `articleBody`.

    When articleBody holds nearly all of the extracted text, it is the full article:
    extracted lines it does not contain are furniture and go. When it also runs much
    longer, the extractor stopped early (an ad slot or a "read more" block taken for the
    end): articleBody's paragraphs after the last one we have are appended. Replacing the
    body with articleBody instead was tried and left out: some CMSs put every caption in
    articleBody, and that cost one dev page 0.2 F1 where appending the tail cost nothing.
    """
    declared = shingles(article_body or "")
    ours = shingles(body)
    if len(declared) < _MIN_SHINGLES or not ours:
        return body
    covered = len(ours & declared) / len(ours)
    if covered < _COVERED:
        return body
    words = set(re.findall(r"\w+", (article_body or "").casefold()))
    kept = "\n".join(line for line in body.splitlines() if _in_declared(line, declared, words))
    if covered >= _TAIL_COVERED and len(declared) >= _TAIL_GROWTH * len(ours):
        return "\n".join(part for part in (kept, _tail(article_body or "", ours)) if part)
    return kept


def _tail(article_body: str, ours: set[tuple[str, ...]]) -> str:
    """The paragraphs of articleBody after the last one the extracted body shares."""
    paragraphs = [" ".join(line.split()) for line in article_body.splitlines() if line.strip()]
    joiner = "\n"
    if len(paragraphs) == 1:  # one run of text: find the place sentence by sentence
        paragraphs, joiner = _SENTENCE_END.split(paragraphs[0]), " "
    last = -1
    for index, paragraph in enumerate(paragraphs):
        if (found := shingles(paragraph)) and len(found & ours) / len(found) >= _LINE_KEPT:
            last = index
    return joiner.join(paragraphs[last + 1 :])


def _in_declared(line: str, declared: set[tuple[str, ...]], words: set[str]) -> bool:
    line_words = re.findall(r"\w+", line.casefold())
    if not line_words:
        return True  # blank lines and pure punctuation keep the layout
    if len(line_words) < _SHINGLE:
        return sum(word in words for word in line_words) / len(line_words) >= _LINE_KEPT
    line_shingles = shingles(line)
    return len(line_shingles & declared) / len(line_shingles) >= _LINE_KEPT


# --- the lead (standfirst) ------------------------------------------------------------------


def missing_lead(tree: HtmlElement, body: str, page: Declared) -> str | None:
    """The page's lead when the extracted body lacks it, else None.

    Templates set the standfirst apart from the article container, in the header next
    to the headline, and trafilatura leaves it out. The publisher repeats it as the
    page's description; a description that is also shown as one block of the page and
    is missing from the body is that lead. A description shown nowhere is SEO text.
    """
    ours: set[tuple[str, ...]] | None = None
    for description in _descriptions(page):
        if description in body:  # the usual case, decided without tokenising
            continue
        ours = shingles(body) if ours is None else ours
        declared = shingles(description)
        if len(declared) < _LEAD_MIN_SHINGLES or len(declared & ours) / len(declared) >= 0.5:
            continue
        if _shown(tree, description):
            return description
    return None


def _descriptions(page: Declared) -> Iterable[str]:
    for key in _DESCRIPTIONS:
        if text := declared_text(page.meta.get(key)):
            yield text
    for node in page.articles:
        if text := declared_text(node.get("description")):
            yield text


def _shown(tree: HtmlElement, text: str) -> bool:
    """Whether one element outside navigation holds exactly `text` (words compared).

    The search starts from the text nodes holding the description's longest word (an
    XPath scan in C) and climbs a few levels: comparing every element's full text would
    cost quadratic time on deep pages.
    """
    words = re.findall(r"\w+", text.casefold())
    needle = max(re.findall(r"\w+", text), key=len, default="")
    if not needle:
        return False
    for hit in tree.xpath("//text()[contains(., $needle)]", needle=needle)[:_MAX_HITS]:
        element = hit.getparent()
        for _ in range(_CLIMB):
            if element is None or element.tag in _SKIP_ANCESTORS or element.tag == "body":
                break
            content = element.text_content()
            if len(content) > 2 * len(text) + 50:
                break  # already past the lead's block: its ancestors only grow
            if re.findall(r"\w+", content.casefold()) == words:
                return not any(node.tag in _SKIP_ANCESTORS for node in element.iterancestors())
            element = element.getparent()
    return False


# --- furniture learnt from an outlet's pages -------------------------------------------------


def learn_furniture(
    texts: Iterable[str], *, min_texts: int = 5, min_pages: int = 3, min_share: float = 0.3
) -> frozenset[str]:
    """Lines that recur across an outlet's stored bodies: template, not story.

    `texts` are bodies of that outlet's other articles as extracted, one per story (seed
    form, title line included or not): copies of one story share their lines legitimately.
    A line counts once per page; it is furniture when it is on at least `min_pages` pages
    and on `min_share` of them. Fewer than `min_texts` bodies teach nothing: two related
    stories may share a background paragraph. Lines of one or two words are left alone:
    section labels such as "Analysis" recur legitimately and cost little.
    """
    pages = 0
    counts: Counter[str] = Counter()
    for text in texts:
        pages += 1
        counts.update({key for line in text.splitlines() if (key := _line_key(line))})
    if pages < min_texts:
        return frozenset()
    needed = max(min_pages, int(min_share * pages + 0.999))
    return frozenset(line for line, seen in counts.items() if seen >= needed)


def drop_furniture(body: str, furniture: Collection[str]) -> tuple[str, tuple[str, ...]]:
    """(the body without the lines `learn_furniture` found, the lines dropped).

    A body that would be left without a word is kept whole: the page is then one of the
    outlet's template pages, or the outlet republished it, and either way it is its text.
    """
    if not furniture:
        return body, ()
    kept: list[str] = []
    dropped: list[str] = []
    for line in body.splitlines():
        (dropped if _line_key(line) in furniture else kept).append(line)
    if not dropped or not any(re.search(r"\w", line) for line in kept):
        return body, ()
    return _tidy(kept), tuple(dropped)


def _tidy(lines: list[str]) -> str:
    """Lines joined, without the runs of blank lines or blank ends a removed block leaves."""
    out: list[str] = []
    for line in lines:
        if line.strip() or (out and out[-1].strip()):
            out.append(line)
    return "\n".join(out).strip("\n")


def _line_key(line: str) -> str:
    words = re.findall(r"\w+", line.casefold())
    return " ".join(words) if len(words) >= 3 else ""
