"""The Document: an extracted article, and its seed-form text (SPEC "Data").

The stored `text` is the title on the first line, then the body. It is built here and split here
only, so every reader (dedup, search snippets, Atom, the CLI) agrees on where the title ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from balkanwatch.core.times import utcnow


def seed_text(title: str, body: str) -> str:
    """The stored text form: the title on the first line, then the body."""
    return f"{title}\n{body}"


def split_seed(text: str) -> tuple[str, str]:
    """(title line, body) of a seed-form text."""
    title, _, body = (text or "").partition("\n")
    return title, body


@dataclass(frozen=True)
class Document:
    """An extracted article page, ready to be stored."""

    url: str  # canonical URL
    outlet: str
    title: str | None
    text: str  # seed form
    body: str
    published: str | None = None
    language: str | None = None
    author: str | None = None
    sitename: str | None = None
    aliases: tuple[str, ...] = ()
    fetched_at: str = field(default_factory=utcnow)
    page_title: str | None = None  # the raw <title>: the outlet's titles share its site affix
    script: str | None = None  # "latin" or "cyrillic" for Serbian (and BCMS left undecided)
    # Lines dropped from the body as the outlet's furniture: stored so that the next crawl
    # learns from the text as extracted (a box once dropped must stay known as a box).
    furniture: tuple[str, ...] = ()

    @classmethod
    def of(cls, url: str, outlet: str, title: str, body: str, **rest: Any) -> Document:
        """A document whose text is the seed form of its title and body."""
        return cls(url, outlet, title, seed_text(title, body), body, **rest)
