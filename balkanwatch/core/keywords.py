"""Keyword grammar: what a topic keyword may look like, checked when the configuration loads.

How a keyword's words are turned into the forms they take in the region's languages is the
matcher's business (`balkanwatch.analysis.topics`); whether a keyword is well-formed is decided
here, so a bad keyword stops start-up with the file and entry named, before any crawl.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from balkanwatch.core.folding import fold

MIN_PREFIX = 3  # a shorter explicit prefix (ko*) would match almost any word

# Words of a keyword: spaces, hyphens and apostrophes separate them, as they do in the text, so
# "Herceg-Novi" also finds "Herceg Novi" and "O'Brien" finds "O’Brien".
_KEYWORD_WORD = re.compile(r"[^\s'\u2019\u2010\u2011-]+")


@dataclass(frozen=True)
class KeywordSpec:
    """A keyword as written: its words, and whether the last one is an explicit prefix."""

    words: tuple[str, ...]
    prefix: bool


def parse_keyword(raw: str) -> KeywordSpec:
    """Split and check a keyword; ValueError says what is wrong with it."""
    core = raw.strip()
    is_prefix = core.endswith("*")
    parts = tuple(_KEYWORD_WORD.findall(core[:-1] if is_prefix else core))
    if not parts:
        raise ValueError(f"empty keyword {raw!r}")
    for i, part in enumerate(parts):
        folded = fold(part)
        if not re.fullmatch(r"\w+", folded):
            raise ValueError(f"keyword word {part!r} must be letters or digits")
        if is_prefix and i == len(parts) - 1 and len(folded) < MIN_PREFIX:
            raise ValueError(f"prefix {part + '*'!r} is too short: it would match almost any word")
    return KeywordSpec(parts, is_prefix)
