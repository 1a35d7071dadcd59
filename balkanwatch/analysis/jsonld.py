"""JSON-LD blocks of a page: the nodes a publisher declares, and the one that is the article.

Shared by the headline and body reconciliation. Only top-level nodes, lists and `@graph`
members count: a live blog nests dozens of BlogPosting updates inside its main node, and
their headlines are not the page's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from lxml.html import HtmlElement

ARTICLE_TYPES = frozenset(
    {
        "article",
        "newsarticle",
        "blogposting",
        "liveblogposting",
        "reportagenewsarticle",
        "analysisnewsarticle",
        "opinionnewsarticle",
        "reviewnewsarticle",
        "backgroundnewsarticle",
        "askpublicnewsarticle",
        "report",
        "scholarlyarticle",
        "techarticle",
        "socialmediaposting",
    }
)


def nodes(tree: HtmlElement) -> Iterator[dict]:
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        yield from parse_nodes(script.text or "")


def parse_nodes(raw: str) -> list[dict]:
    try:
        data = json.loads(raw, strict=False)  # raw newlines inside strings are common
    except ValueError:
        return []
    found: list[dict] = []
    pending = [data]
    while pending:
        item = pending.pop(0)
        if isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, dict):
            found.append(item)
            pending.extend(v for k, v in item.items() if k == "@graph")
    return found


def types(node: dict) -> set[str]:
    declared = node.get("@type")
    values = declared if isinstance(declared, list) else [declared]
    return {v.rsplit("/", 1)[-1].casefold() for v in values if isinstance(v, str)}


def article_nodes(tree: HtmlElement) -> list[dict]:
    """The article-typed nodes, in page order."""
    return [node for node in nodes(tree) if types(node) & ARTICLE_TYPES]
