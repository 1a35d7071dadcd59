"""Article extraction: one HTML page in, the article in seed text form out.

trafilatura finds the article body; this module adds what the rest of balkanwatch
relies on and trafilatura leaves loose: bytes decoded by the charset that fits them,
the seed text form (title on the first line, never twice), the headline reconciled
from the page's headings and declared titles (balkanwatch.analysis.headline), a body
checked against the publisher's JSON-LD articleBody and completed with the lead the
template keeps outside the article (balkanwatch.analysis.body), a published time in
one comparable form, the text's language (balkanwatch.analysis.language) and an
absolute canonical URL. Pure: no Scrapy, no I/O, never raises on bad input.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass

import lxml.html
import trafilatura
from lxml import etree
from lxml.html import HtmlElement
from trafilatura.settings import Document
from trafilatura.utils import HTML_PARSER

from balkanwatch.analysis import flight, headline, metadata
from balkanwatch.analysis import language as languages
from balkanwatch.analysis.body import drop_furniture, missing_lead, reconcile_with_article_body
from balkanwatch.analysis.charset import Decoded, decode_html

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class Extracted:
    title: str | None
    text: str  # seed form: title on the first line, then the body
    body: str  # the body alone, without the title line
    published: str | None  # ISO 8601 date or datetime (UTC when the page gives an offset)
    author: str | None
    language: str | None  # ISO 639-1 of the text; None: undecided, the outlet's language applies
    sitename: str | None
    canonical_url: str | None  # absolute, from <link rel="canonical"> or og:url
    page_title: str | None = None  # the raw <title>: what headline.learn_affixes learns from
    script: str | None = None  # "latin" or "cyrillic" for Serbian (and BCMS left undecided)
    furniture: tuple[str, ...] = ()  # lines dropped from the body as the outlet's furniture


def extract_article(
    html: str | bytes | HtmlElement,
    url: str | None = None,
    *,
    site_title: str | None = None,
    known_titles: Iterable[str] = (),
    furniture: Collection[str] = frozenset(),
) -> Extracted | None:
    """None when the page holds no article text. `html` may be a tree from parse_html (the
    crawl's workers parse the page's bytes themselves), which this modifies.

    `site_title` (the outlet's title in outlets.yaml) and `known_titles` (the stored
    `page_title`s of the outlet's other pages) help strip the site's name from titles;
    `furniture` (body.learn_furniture over the outlet's stored bodies) are lines to drop.
    """
    tree = _parse(html)
    if tree is None:
        return None
    page = metadata.declared(tree)
    found = headline.reconcile(
        tree, url, site_title=site_title, known_titles=known_titles, page=page
    )
    title = headline.choose(found)
    titles = (title, *found.shown)
    body = _body(tree, url, titles, page)
    if body is None and (streamed := _streamed_article(tree)) is not None:
        body = _body(streamed, url, titles, page)
    if body is None:
        return None
    body, dropped = drop_furniture(body, furniture)
    declared_language = _plausible_language(metadata.language(page), body)
    language, script = languages.resolve(declared_language, body)
    return Extracted(
        title=title,
        text=f"{title}\n{body}" if title else body,
        body=body,
        published=metadata.published(page, tree, url),
        author=metadata.author(page),
        language=language,
        script=script,
        sitename=metadata.sitename(page),
        canonical_url=metadata.canonical_url(page, url),
        page_title=headline.page_title(tree),
        furniture=dropped,
    )


def _body(
    tree: HtmlElement, url: str | None, titles: Iterable[str | None], page: metadata.Declared
) -> str | None:
    """The article's body from trafilatura, reconciled with the JSON-LD body and completed with
    a lead the template keeps apart (both from the page's declarations); None when the page
    holds no article text."""
    _drop_social_embeds(tree)
    _unwrap_layout_tables(tree)
    try:
        doc = trafilatura.bare_extraction(
            tree,
            url=url,
            include_comments=False,
            include_tables=True,
            with_metadata=False,  # balkanwatch.analysis.metadata reads what is needed, cheaper
        )
    except Exception:  # hostile pages reach third-party code: one bad page must not stop a crawl
        LOGGER.warning("trafilatura failed on %s", url, exc_info=True)
        return None
    if not isinstance(doc, Document):  # None: nothing found (a dict only if as_dict were set)
        return None
    text = reconcile_with_article_body(_clean_body(doc.text or ""), _declared_body(page))
    body = _drop_leading_title(_clean_body(text), titles)
    if not _is_article_text(body, tree):
        return None
    if lead := missing_lead(tree, body, page):
        body = f"{lead}\n{body}"
    return body


def _streamed_article(tree: HtmlElement) -> HtmlElement | None:
    """A Next.js page whose article a client component renders shows none of it in its HTML;
    the article's HTML is in the page's flight data (balkanwatch.analysis.flight)."""
    streamed = flight.article_html(tree)
    return parse_html(streamed) if streamed is not None else None


# --- parsing ---------------------------------------------------------------------------------


def _parse(html: str | bytes | HtmlElement) -> HtmlElement | None:
    if isinstance(html, HtmlElement):  # parsed by the caller (parse_html)
        return html
    if isinstance(html, bytes):
        # the caller decodes when it knows header and language
        return parse_html(utf8_bytes(html, decode_html(html)))
    if not isinstance(html, str):
        return None
    return parse_html(html.encode("utf-8", "surrogatepass"))


def utf8_bytes(body: bytes, decoded: Decoded) -> bytes:
    """The page as UTF-8 bytes: the bytes themselves when they were valid UTF-8 (or ASCII) and
    read as such, the decoded text encoded again otherwise (a legacy code page, a repair)."""
    if decoded.encoding in ("utf-8", "ascii") and decoded.declared is None:
        return body  # decode() took them as they are: no BOM, no stray bytes, no repair
    return decoded.text.encode("utf-8", "surrogatepass")


# What trafilatura's load_html repairs in a page's text, here on its UTF-8 bytes: control
# characters XML does not allow (searched for by deleting them, C speed: pages rarely have any,
# and a regex scan of a large page costs about as much as parsing it), U+FFFE and U+FFFF.
_CONTROL = bytes([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])
_INVALID_XML_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]|\xef\xbf[\xbe\xbf]")
_DOCTYPE_TAG = re.compile(rb"^< ?! ?DOCTYPE[^>]*/[^<>]*>", re.IGNORECASE)
_FAULTY_HTML = re.compile(rb"(<html.*?)\s*/>", re.IGNORECASE)


def parse_html(data: bytes) -> HtmlElement | None:
    """UTF-8 bytes to the tree trafilatura's load_html would build from their text.

    libxml2 reads UTF-8 bytes about twice as fast as a Python str (which it first converts),
    and the page is then never held as a str, several times its size in memory. The repairs
    and the not-HTML check are load_html's (trafilatura.utils), applied to the bytes.
    """
    if not data or data.isspace():
        return None
    beginning = data[:50].lower()
    if (
        len(data.translate(None, _CONTROL)) != len(data)
        or b"\xef\xbf\xbe" in data
        or b"\xef\xbf\xbf" in data
    ):
        data = _INVALID_XML_BYTES.sub(b"", data)
    if b"doctype" in beginning:  # libxml2 bug with some doctypes (lxml bug 1955915)
        first, _, rest = data.partition(b"\n")
        data = _DOCTYPE_TAG.sub(b"", first, count=1) + b"\n" + rest
    for line in data[:4096].splitlines()[:4]:
        if b"<html" in line and line.endswith(b"/>"):  # a self-closing <html/>
            data = _FAULTY_HTML.sub(rb"\1>", data, count=1)
            break
    try:
        tree = lxml.html.fromstring(data, parser=HTML_PARSER)
    except (ValueError, TypeError, etree.LxmlError):
        return None
    if not isinstance(tree, HtmlElement):
        return None
    if b"html" not in beginning and len(tree) < 2:  # a fragment, or not HTML at all
        return None
    return tree


# The blockquotes of the platforms' official embed codes: another account's post shown as
# a widget, with its own byline and date lines; not the outlet's text (fundus drops them too).
_SOCIAL_EMBEDS = (
    "//blockquote[contains(concat(' ', normalize-space(@class), ' '), ' twitter-tweet ')"
    " or contains(@class, 'twitter-video') or contains(@class, 'instagram-media')"
    " or contains(@class, 'tiktok-embed') or contains(@class, 'bluesky-embed')]"
)


def _drop_social_embeds(tree: HtmlElement) -> None:
    for embed in tree.xpath(_SOCIAL_EMBEDS):
        embed.drop_tree()


_BLOCK_TAGS = {"p", "div", "table", "ul", "ol", "dl", "blockquote", "figure", "section", "article"}
_BLOCK_TAGS |= {f"h{level}" for level in range(1, 7)}


def _unwrap_layout_tables(tree: HtmlElement) -> None:
    """Turn single-column tables into plain blocks.

    Blogger wraps every captioned image in a one-column table ("tr-caption-container"),
    and older portals lay out whole articles in them; neither is data, so rendering
    them as `| caption |` rows would put table syntax around ordinary sentences.
    """
    for table in reversed(tree.xpath("//table")):  # innermost first
        sections = table.xpath("./thead | ./tbody | ./tfoot")
        rows = table.xpath("./tr | ./thead/tr | ./tbody/tr | ./tfoot/tr")
        cells = [row.xpath("./td | ./th") for row in rows]
        if not rows or any(len(row_cells) > 1 for row_cells in cells):
            continue
        for cell in (cell for row_cells in cells for cell in row_cells):
            if not "".join(cell.itertext()).strip():  # an image alone: link-dense, sinks its block
                cell.drop_tree()
            else:
                cell.tag = "div" if any(child.tag in _BLOCK_TAGS for child in cell) else "p"
                _strip_table_attributes(cell)
        for element in [table, *sections, *rows]:
            element.tag = "div"
            _strip_table_attributes(element)


def _strip_table_attributes(element: HtmlElement) -> None:
    # trafilatura's class/id furniture rules skip table parts; as divs, Blogger's
    # "tr-caption-container" would read as image furniture and lose the caption
    element.attrib.pop("class", None)
    element.attrib.pop("id", None)


# --- text ------------------------------------------------------------------------------------


def _clean_body(text: str) -> str:
    """Trailing blanks off every line, at most one empty line in a row, none at the ends."""
    lines = [line.rstrip() for line in text.splitlines()]
    kept: list[str] = []
    for line in lines:
        if line or (kept and kept[-1]):
            kept.append(line)
    return "\n".join(kept).strip()


def _comparable(line: str) -> str:
    return " ".join(re.findall(r"\w+", line.casefold()))


def _drop_leading_title(body: str, titles: Iterable[str | None]) -> str:
    """The h1 often survives into the body; the seed form has the title once, on top."""
    first, _, rest = body.partition("\n")
    if _comparable(first) in {_comparable(title) for title in titles if title}:
        return rest.lstrip("\n")
    return body


def _is_article_text(body: str, tree: HtmlElement) -> bool:
    """False for no words at all, or for a body made mostly of the page's own link texts.

    trafilatura's fallbacks return *something* for nearly any page, so a section
    front or a page that is only navigation would otherwise come back as an article.
    """
    lines = [_comparable(line.removeprefix("- ")) for line in body.splitlines()]
    total = sum(len(line) for line in lines)
    if total == 0:
        return False
    anchors = {_comparable(a.text_content()) for a in tree.iter("a")}
    linked = sum(len(line) for line in lines if line in anchors)
    return linked / total <= 0.5


# --- metadata ---------------------------------------------------------------------------------


def _declared_body(page: metadata.Declared) -> str | None:
    for node in page.articles:
        if isinstance(value := node.get("articleBody"), str) and value.strip():
            return value
    return None


_LETTER = re.compile(r"[^\W\d_]")
_CYRILLIC_LETTER = re.compile(r"[\u0400-\u04ff]")
_CYRILLIC_ONLY = {"bg", "mk", "ru", "uk", "be"}
_CYRILLIC_POSSIBLE = _CYRILLIC_ONLY | {"sr", "bs", "sh", "cnr"}


def _plausible_language(code: str | None, body: str) -> str | None:
    """Drop a declared language the script contradicts.

    Many regional sites keep WordPress' default lang="en-US" over Serbian or
    Macedonian text; None lets the outlet's configured language win instead.
    """
    if code is None:
        return None
    letters = len(_LETTER.findall(body[:5000]))
    if not letters:
        return code
    cyrillic = len(_CYRILLIC_LETTER.findall(body[:5000])) / letters
    if cyrillic > 0.5 and code not in _CYRILLIC_POSSIBLE:
        return None
    if cyrillic < 0.05 and code in _CYRILLIC_ONLY:
        return None
    return code
