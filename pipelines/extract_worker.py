"""What an extraction worker runs: the page's bytes in, the extracted article's fields out.

A module of its own so that the workers (forked from a server that imported this module and
extraction once: PRELOAD) import only extraction: not Scrapy, Twisted, apprise or the storage
layer, which the pipeline module needs and a worker never uses (about 0.6 CPU s and tens of MiB
per worker). The crawl process imports this module but not extraction (trafilatura, lxml):
those imports are inside the function.
"""

from __future__ import annotations

import pickle
from dataclasses import asdict
from typing import Any

from crawler.items import ArticlePage
from pipelines.stages import STAGES

PRELOAD = [__name__, "balkanwatch.analysis.extract"]


def extract_in_worker(
    payload: bytes, hints: dict[str, Any] | None = None
) -> tuple[dict[str, Any] | None, str | None, dict[str, tuple[float, float, int]]]:
    """Runs in a worker process; returns plain data so it pickles cheaply, how the page was
    decoded when not as it declared, and the worker's stage times for this page.

    The page travels as its bytes and is parsed from UTF-8 bytes once: the decoded text is
    only the charset decision (a mislabelled page costs a few ms), never kept or parsed."""
    from balkanwatch.analysis.charset import decode_html
    from balkanwatch.analysis.extract import extract_article, parse_html, utf8_bytes

    with STAGES("unpickle"):
        page: ArticlePage = pickle.loads(payload)
    with STAGES("decode"):
        decoded = decode_html(page.html, page.charset, page.language)
        data, note = utf8_bytes(page.html, decoded), decoded.note
        del decoded  # the text: several times the page's size, not needed any more
    with STAGES("parse"):
        tree = parse_html(data)
    with STAGES("extract"):
        # hints: the outlet's title, stored <title>s and furniture (pipelines/outlet_hints.py)
        result = (
            extract_article(tree, page.response_url, **(hints or {})) if tree is not None else None
        )
    with STAGES("result"):
        out = asdict(result) if result else None
    return out, note, STAGES.take()
