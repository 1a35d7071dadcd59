"""The search query language: parsing, checking, the words an index is asked for, the check of a
candidate, and the snippet shown for a hit. Pure logic, shared by the CLI and the web pages.

A query is terms that must all appear, and terms that must not:

    kosovo                 the word in every form the topic matcher gives it (Kosova, Kosovës,
                           Косову, kosovar, kosovski), in either script, not Kosovac or Kosovel
    NATO                   in capitals: an acronym, with the matcher's case rules (not "nato")
    izbor*                 a prefix (at least three letters)
    "Vjosa Osmani"         a phrase: its words in order, each in any of its forms
    -Srbija, -"Bujar Osmani"   excluded

The forms come from the matcher (balkanwatch.analysis.topics.Keyword): search and alerts agree
on what a word is. An index of folded words narrows the archive to candidates; each candidate is
then checked with the matcher's rules (case, phrase gaps), which the index cannot know.
Malformed input raises QueryError with one line saying what is wrong.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo

from balkanwatch.analysis.proximity import SENTENCE_END, is_sentence_break
from balkanwatch.analysis.topics import IndexWord, Keyword
from balkanwatch.core.config import parse_interval
from balkanwatch.core.folding import Folded

MAX_TERMS = 8  # each term is an OR of up to ~150 forms: enough for any real question
MAX_QUERY_CHARS = 300
SNIPPET_CHARS = 220

_TOKEN = re.compile(r'(-?)"([^"]*)"|(\S+)')
# Punctuation trimmed from a word's ends, as pasted from a sentence: "Kosovo," (Kosova).
_EDGE = "\"'.,;:!?()[]{}«»„“”‘’"
_INNER_OK = re.compile(r"(?:[^\W_]|['’\-‐‑])+\*?")  # no _: the index splits words there
_SPACES = re.compile(r"\s+")
_OPERATORS = {"AND", "OR", "NOT", "NEAR"}


class QueryError(ValueError):
    """A malformed query or option; the message is one line for the user."""


@dataclass(frozen=True)
class Term:
    """One word or phrase of a query, compiled as the matcher compiles a keyword."""

    text: str  # as written, without quotes or minus
    keyword: Keyword

    @property
    def index_words(self) -> tuple[IndexWord, ...]:
        return self.keyword.index_words

    @property
    def index_decides(self) -> bool:
        """The index alone says whether a text has it: one word, no case rule."""
        words = self.index_words
        return len(words) == 1 and not words[0].needs_check


@dataclass(frozen=True)
class Query:
    text: str
    include: tuple[Term, ...]
    exclude: tuple[Term, ...]

    def check(self, title: str, body: str) -> dict[str, list[tuple[int, int]]] | None:
        """Where the included terms occur in title and body (original offsets), or None when
        the texts do not match: an included term missing, or an excluded one present."""
        folded = {"title": Folded(title), "body": Folded(body)}
        for term in self.exclude:
            if any(term.keyword.spans(f) for f in folded.values()):
                return None
        found: dict[str, list[tuple[int, int]]] = {"title": [], "body": []}
        for term in self.include:  # every term present, before any offset is mapped back
            spans = {place: term.keyword.spans(f) for place, f in folded.items()}
            if not spans["title"] and not spans["body"]:
                return None
            for place, s in spans.items():
                found[place] += s
        return {
            place: _merge([folded[place].span(a, b) for a, b in spans])
            for place, spans in found.items()
        }


def parse_query(text: str) -> Query:
    """A query string as terms; QueryError says what is wrong with it."""
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"query too long ({len(text)} characters; at most {MAX_QUERY_CHARS})")
    if text.count('"') % 2:
        raise QueryError('unbalanced quote: a phrase is written "like this"')
    include: list[Term] = []
    exclude: list[Term] = []
    for m in _TOKEN.finditer(text):
        if m.group(3) is not None:
            negative, raw = _word(m.group(3))
        else:
            negative, raw = bool(m.group(1)), m.group(2).strip()
            if not raw:
                raise QueryError('empty phrase ""')
        if raw is None:
            continue
        (exclude if negative else include).append(_term(raw))
    if not include:
        raise QueryError(
            "nothing to search for: give at least one word that must appear"
            if exclude
            else "empty query"
        )
    if len(include) + len(exclude) > MAX_TERMS:
        raise QueryError(f"too many terms ({len(include) + len(exclude)}; at most {MAX_TERMS})")
    return Query(text, tuple(include), tuple(exclude))


def _word(token: str) -> tuple[bool, str | None]:
    """(excluded, the word) of a bare token; None for a token of punctuation only (a dash)."""
    negative = token.startswith("-") and len(token) > 1
    word = token[1:] if negative else token
    star = word.endswith("*")
    word = word.rstrip("*").strip(_EDGE) + ("*" if star else "")
    if word in ("", "-", "–", "—") and not star:
        if negative or token in ("-", "–", "—"):
            raise QueryError(f"{token!r}: a minus is followed by the word to exclude (-Srbija)")
        return negative, None
    if word == "*":
        raise QueryError("a lone *: write the start of a word before it (kosov*)")
    if word in _OPERATORS:
        raise QueryError(
            f"{word}: search has no operators; every word must appear, -word excludes one"
        )
    if not _INNER_OK.fullmatch(word):
        raise QueryError(
            f"{word!r}: a word is letters and digits (a ' or - inside), a * only at its end"
        )
    return negative, word


def _term(raw: str) -> Term:
    try:
        return Term(raw, Keyword(raw))
    except ValueError as e:
        raise QueryError(str(e)) from None


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, overlaps joined (Osmani inside Vjosa Osmani)."""
    merged: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


# --- snippets ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Snippet:
    """A sentence of the article in its own spelling and script; `marks` are the offsets of the
    matched words in `text`, so a page can emphasise them with its own escaping."""

    text: str
    marks: tuple[tuple[int, int], ...]

    def marked(self, left: str = "[", right: str = "]") -> str:
        out, at = [], 0
        for a, b in self.marks:
            out += [self.text[at:a], left, self.text[a:b], right]
            at = b
        out.append(self.text[at:])
        return "".join(out)


def snippet(text: str, spans: list[tuple[int, int]], limit: int = SNIPPET_CHARS) -> Snippet:
    """The sentence around the first span of `text` (original offsets), cut to about `limit`
    characters, whitespace collapsed, every span inside it marked."""
    if not spans:
        return _collapse(text, 0, min(len(text), limit), [])
    a, b = spans[0]
    start, end = _sentence(text, a, b)
    if end - start > limit:  # keep the match, a little before it and more after it
        room = max(0, limit - (b - a))
        start = max(start, a - room // 3)
        end = min(end, b + room - (a - start))
        start = text.find(" ", start, a) + 1 if start > 0 and text[start - 1] != " " else start
        cut = text.rfind(" ", b, end)
        end = cut if cut > 0 and end < len(text) else end
    inside = [(max(x, start), min(y, end)) for x, y in spans if x < end and y > start]
    return _collapse(text, start, end, inside)


def _sentence(text: str, a: int, b: int) -> tuple[int, int]:
    lo, hi = max(0, a - 600), min(len(text), b + 600)
    start = lo
    for m in SENTENCE_END.finditer(text, lo, a):
        if is_sentence_break(text, m):
            start = m.end()
    end = hi
    for m in SENTENCE_END.finditer(text, b, hi):
        if is_sentence_break(text, m):
            end = m.end() if m.group() != "\n" else m.start()
            break
    return start, end


def _collapse(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> Snippet:
    """text[start:end] with runs of whitespace as one space, ends trimmed, spans carried over;
    an ellipsis where the sentence was cut."""
    window = text[start:end]
    body = " ".join(window.split())
    lead = len(window) - len(window.lstrip())
    # Where each run of whitespace ends in the window, and how many characters were dropped up to
    # there: an offset maps to itself minus what was dropped before it.
    ends, dropped, total = [0], [lead], lead
    for m in _SPACES.finditer(window, lead):
        if m.end() < len(window):
            total += m.end() - m.start() - 1
            ends.append(m.end())
            dropped.append(total)

    def where(offset: int) -> int:
        w = offset - start
        return max(0, w - dropped[bisect_right(ends, w) - 1])

    head = "…" if start > 0 and not _at_sentence_start(text, start) else ""
    tail = "…" if end < len(text) and not _at_sentence_end(text, end) else ""
    n = len(head)
    marks = tuple(
        (n + where(x), n + min(len(body), where(y))) for x, y in spans if where(y) > where(x)
    )
    return Snippet(head + body + tail, marks)


def _at_sentence_start(text: str, i: int) -> bool:
    before = text[:i].rstrip()
    return not before or before[-1] in ".!?…\n\"'»”’)]" or text[i - 1] == "\n"


def _at_sentence_end(text: str, i: int) -> bool:
    return text[i - 1 : i] in (".", "!", "?", "…", '"', "»", "”") or text[i : i + 1] == "\n"


# --- times given on the command line or in a form ----------------------------------------------


def parse_moment(value: str, now: datetime, tz: tzinfo, end_of_day: bool = False) -> datetime:
    """`24h`, `7d`, `90m` back from now, or a date (`2026-12-01`, in the settings' timezone; the
    end of that day when `end_of_day`) or an ISO date and time. QueryError when unreadable."""
    text = value.strip()
    try:
        return now - timedelta(seconds=parse_interval(text))
    except (ValueError, OverflowError):
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise QueryError(
            f"{value!r} is not a time: use 24h, 7d, 90m, a date (2026-12-01) or an ISO time"
        ) from None
    if len(text) <= 10:  # a bare date: a day of the reader's calendar
        day = datetime.combine(moment.date(), time(), tzinfo=tz)
        return day + timedelta(days=1) if end_of_day else day
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)
