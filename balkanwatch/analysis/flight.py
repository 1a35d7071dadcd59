"""The article a Next.js page streams to the browser instead of putting it in its HTML.

A Next.js App Router page carries its React Server Components payload ("flight" data) in scripts
`self.__next_f.push([1, "<chunk>"])`; the chunks, concatenated, are rows `<id>:<data>`. A text
row, `<id>:T<length in hex>,<text>`, holds a long string verbatim, its length counted in UTF-8
bytes: where a CMS's article HTML goes when a client component renders it, so the page as served
shows an empty article. Extraction asks for it only when the HTML itself has no article text.
"""

from __future__ import annotations

import json
import re

from lxml.html import HtmlElement

_MARK = "self.__next_f.push"
_PUSH = re.compile(r'self\.__next_f\.push\(\[1,\s*("(?:[^"\\]|\\.)*")\]\)', re.DOTALL)
_TEXT_ROW = re.compile(rb"(?<![0-9a-zA-Z])([0-9a-f]{1,8}):T([0-9a-f]{1,8}),")
_MIN_BYTES = 500  # shorter HTML rows are widgets, not an article
# CMS placeholders a client component replaces (ad slots: "$$ARTICLEAD$$")
_PLACEHOLDER = re.compile(rb"\$\$[A-Z][A-Z0-9_]*\$\$")


def article_html(tree: HtmlElement) -> bytes | None:
    """The longest HTML text row of the page's flight data with paragraphs in it, as a UTF-8
    document to extract from; None when the page streams none."""
    chunks = []
    for script in tree.iter("script"):
        text = script.text or ""
        if _MARK not in text:
            continue
        for literal in _PUSH.findall(text):
            try:
                chunks.append(json.loads(literal))
            except ValueError:
                continue
    if not chunks:
        return None
    best = max(_html_rows("".join(chunks).encode("utf-8", "surrogatepass")), key=len, default=None)
    if best is None:
        return None
    return b"<html><body><article>" + _PLACEHOLDER.sub(b"", best) + b"</article></body></html>"


def _html_rows(data: bytes) -> list[bytes]:
    rows, position = [], 0
    while match := _TEXT_ROW.search(data, position):
        end = match.end() + int(match.group(2), 16)
        row = data[match.end() : end]
        if len(row) >= _MIN_BYTES and b"<p" in row:
            rows.append(row)
        position = max(end, match.end())
    return rows
