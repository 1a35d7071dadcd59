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
MAX_DISTANCE = 50  # further apart than this, two words are simply in the same article

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


# --- proximity: `A NEAR/n B` in require and exclude (matched by analysis.proximity) ---------

_NEAR = re.compile(r"(?P<left>\S.*?)\s+NEAR/(?P<n>\d+)\s+(?P<right>\S.*)")
_NEAR_WORD = re.compile(r"\bNEAR\b")


@dataclass(frozen=True)
class Near:
    left: str
    right: str
    distance: int  # words allowed between the two


def parse_near(raw: str) -> Near | None:
    """`A NEAR/n B` as its parts; None when `raw` has no NEAR operator (a plain keyword).

    NEAR must be in capitals, as in search engines, so a keyword may still contain "near"."""
    text = raw.strip()
    if not _NEAR_WORD.search(text):
        return None
    m = _NEAR.fullmatch(text)
    if m is None or _NEAR_WORD.search(m["left"]) or _NEAR_WORD.search(m["right"]):
        raise ValueError(
            f"{raw!r}: write proximity as 'A NEAR/5 B' (one NEAR, a number of words after the"
            " slash, a keyword on each side)"
        )
    distance = int(m["n"])
    if distance > MAX_DISTANCE:
        raise ValueError(f"{raw!r}: NEAR/{distance} is too far; at most NEAR/{MAX_DISTANCE}")
    return Near(m["left"].strip(), m["right"].strip(), distance)


def check_topic_terms(
    keywords: list[str], aliases: dict[str, list[str]], require: list[str], exclude: list[str]
) -> None:
    """Every term of a topic is well-formed; ValueError names the one that is not."""
    for raw in keywords:
        if parse_near(raw):
            raise ValueError(f"{raw!r}: NEAR belongs in require or exclude, not keywords")
        parse_keyword(raw)
        for alias in aliases.get(raw.strip(), ()):
            try:
                parse_keyword(alias)
            except ValueError as e:
                raise ValueError(f"alias {alias!r} of {raw.strip()!r}: {e}") from None
    for raw in (*require, *exclude):
        pair = parse_near(raw)
        for term in (pair.left, pair.right) if pair else (raw,):
            parse_keyword(term)
