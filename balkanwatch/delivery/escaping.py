"""The escaping rules of every message format, and the words a message emphasises.

Titles, snippets, outlet names and URLs come from outlets, i.e. from strangers. Whatever a
template does with them, these rules hold: a subject or a text line is one line of printable
characters (`clean_line`: no header injection, no bidi tricks), Markdown has the characters that
make links, tags and mentions backslash-escaped (`md_escape`), and only http(s) URLs become links
(`safe_url`). HTML and XML are escaped by the template engine itself (autoescaping).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from balkanwatch.core.folding import fold, fold_with_origin

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# -- untrusted text --------------------------------------------------------------------------


def clean_line(value: str) -> str:
    """One line of printable text: control, format (bidi overrides, zero-width) and line/paragraph
    separator characters become spaces and runs of whitespace collapse, so nothing from an outlet
    can start a new header line or a fake paragraph."""
    chars = [" " if unicodedata.category(c)[0] == "C" or c in "\u2028\u2029" else c for c in value]
    return " ".join("".join(chars).split())


def trim(value: str, limit: int) -> str:
    """`value` cut to at most `limit` characters, at a word boundary when one is near, with '…'."""
    if len(value) <= limit:
        return value
    cut = value[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,;:-–—") + "…"


_URL_UNSAFE = {c: f"%{ord(c):02X}" for c in ' "<>\\^`{|}'}


def safe_url(url: str) -> str | None:
    """The URL if it may become a link: http or https, no control characters, and the characters
    that would end a link in some format (space, quotes, <, >, |, ...) percent-encoded."""
    url = url.strip()
    if not re.match(r"https?://[^\s/?#]", url, re.IGNORECASE):
        return None
    if any(unicodedata.category(c)[0] == "C" or c.isspace() and c != " " for c in url):
        return None
    return "".join(_URL_UNSAFE.get(c, c) for c in url)


_MD_SPECIAL = re.compile(r"([\\<>\[\]#])")


def md_escape(value: str) -> str:
    """Backslash-escape what could make a tag, a mention (`<!channel>`), a link or a heading.

    `*`, `_`, `~` and backticks stay as they are: apprise keeps the backslash of those in Slack,
    which reads worse than the odd stray emphasis they can cause."""
    return _MD_SPECIAL.sub(r"\\\1", value)


# -- emphasis of the matched words -----------------------------------------------------------


def _is_word_char(char: str) -> bool:
    return char.isalnum() or unicodedata.combining(char) != 0


_INFLECTION_MAX = 4  # letters an inflected form may add to a stem: Kosov-ski, Kosov-arët


def _term_pattern(term: str) -> tuple[str, int] | None:
    """(folded prefix, how many word letters may follow it) for one reported term.

    `Kosov*` is an explicit prefix; a term of five letters or more loses a final vowel and may
    take an ending (`Kosovo` marks `Kosovu`, `Косова`, `kosovski`); a shorter one must be the
    whole word, so `NATO` marks `NATO` in `NATO-a` but not `natočio`."""
    prefix = term.strip().endswith("*")
    folded = fold(term.strip().rstrip("*"))
    if len(folded) < 2:
        return None
    if prefix:
        return folded, 1_000
    if len(folded) >= 5 and folded[-1] in "aeiouy":
        return folded[:-1], _INFLECTION_MAX
    return folded, 0


def emphasis_spans(text: str, terms: Sequence[str]) -> list[tuple[int, int]]:
    """Sorted, disjoint [start, end) spans of the words of `text` that a matched term names,
    case-, accent- and script-blind (see `_term_pattern` for inflections)."""
    folded, origin = fold_with_origin(text)
    spans: list[tuple[int, int]] = []
    for pattern in {p for p in map(_term_pattern, terms) if p}:
        spans += _find_words(text, folded, origin, *pattern)
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _find_words(
    text: str, folded: str, origin: list[int], stem: str, extra: int
) -> list[tuple[int, int]]:
    found_spans = []
    for found in re.finditer(re.escape(stem), folded):
        start = origin[found.start()]
        if start > 0 and _is_word_char(text[start - 1]):
            continue  # inside a word: "donator"
        end = origin[found.end() - 1] + 1
        word_end = end
        while word_end < len(text) and _is_word_char(text[word_end]):
            word_end += 1
        if word_end - end <= extra:
            found_spans.append((start, word_end))
    return found_spans


# -- times -----------------------------------------------------------------------------------


def _date(local: datetime) -> str:
    return f"{local.day} {_MONTHS[local.month - 1]} {local.year}"


def format_time(moment: datetime, tz: tzinfo) -> str:
    """`1 Dec 2026 08:15 CET`: the same in every locale, and the zone says which hour it is."""
    local = moment.astimezone(tz)
    return f"{_date(local)} {local:%H:%M} {local.tzname()}"


def format_period(start: datetime, end: datetime, tz: tzinfo, zone: bool = True) -> str:
    """`1 Dec 2026 08:00–09:00 CET`, or both dates when the period spans midnight."""
    first, last = start.astimezone(tz), end.astimezone(tz)
    suffix = f" {last.tzname()}" if zone else ""
    if first.date() == last.date():
        return f"{_date(first)} {first:%H:%M}–{last:%H:%M}{suffix}"
    return f"{_date(first)} {first:%H:%M} – {_date(last)} {last:%H:%M}{suffix}"


@dataclass(frozen=True)
class Piece:
    """A run of a snippet: `marked` when it is a matched word, which templates emphasise."""

    text: str
    marked: bool = False


def pieces(text: str, terms: Sequence[str]) -> list[Piece]:
    """`text` cut into plain and matched runs (see `emphasis_spans`); empty text gives []."""
    out: list[Piece] = []
    last = 0
    for start, end in emphasis_spans(text, terms):
        if start > last:
            out.append(Piece(text[last:start]))
        out.append(Piece(text[start:end], True))
        last = end
    if last < len(text):
        out.append(Piece(text[last:]))
    return out
