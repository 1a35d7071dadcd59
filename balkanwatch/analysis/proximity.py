"""Proximity in topic conditions: `A NEAR/n B` holds when A and B occur in one sentence with at
most n words between them, in either order (n counts as in SQLite FTS5's NEAR: NEAR/0 is side by
side).

A sentence bounds it, not just a window of words: "KFOR withdrew. Jarinje reopened." are two
facts, and a desk asking for KFOR near Jarinje asks for one. A sentence ends at . ! ? or … before
a capital (so "2008. godine" and "e.g. this" do not end one) or at a line break; the title and the
body are separate texts, so a title word is never near a body word. A word is a run of letters
and digits, with hyphens or apostrophes inside it (NATO-ja, Kosovo's are one word each).

Known limits: an abbreviation before a capital ("dr. Petković") ends a sentence here, so a pair
across it is missed; quoted speech is not split from its sentence.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence

# Also used by the snippets of topic matches: one rule for where a sentence ends.
SENTENCE_END = re.compile(r"[.!?…]+[\"'»”’)\]]*(?=\s)|\n")
_WORD = re.compile(r"\bNEAR\b")
_WORD = re.compile(r"\w+(?:['’\-‐‑]\w+)*")


def is_sentence_break(text: str, m: re.Match[str]) -> bool:
    """A full stop ends a sentence only before a capital: not in "2008. godine" or "e.g. this"."""
    if m.group() == "\n":
        return True
    rest = text[m.end() : m.end() + 8].lstrip()
    return not rest or not rest[0].isalpha() or rest[0].isupper()


class Positions:
    """Word and sentence numbers of character offsets in one text, computed on first use."""

    __slots__ = ("text", "_words", "_breaks")

    def __init__(self, text: str) -> None:
        self.text = text
        self._words: list[int] | None = None  # start offset of each word
        self._breaks: list[int] | None = None  # end offset of each sentence

    def word(self, offset: int) -> int:
        if self._words is None:
            self._words = [m.start() for m in _WORD.finditer(self.text)]
        return bisect_right(self._words, offset) - 1

    def sentence(self, offset: int) -> int:
        if self._breaks is None:
            text = self.text
            self._breaks = [
                m.end() for m in SENTENCE_END.finditer(text) if is_sentence_break(text, m)
            ]
        return bisect_right(self._breaks, offset)


Span = tuple[int, int]  # start and end offsets in the text


def near(positions: Positions, left: Sequence[Span], right: Sequence[Span], distance: int) -> bool:
    """Whether some occurrence in `left` and some in `right` (distinct) share a sentence with at
    most `distance` words between them."""
    for a in left:
        for b in right:
            if a == b or positions.sentence(a[0]) != positions.sentence(b[0]):
                continue
            first, second = (a, b) if a[0] <= b[0] else (b, a)
            between = positions.word(second[0]) - positions.word(first[1] - 1) - 1
            if between <= distance:  # overlapping occurrences count as adjacent
                return True
    return False
