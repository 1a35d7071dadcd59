"""Text folding: the one way balkanwatch makes spellings of a word meet.

Topic matching, search (index and query), dedup fingerprints, snippet emphasis and rendering all
fold with `fold`, so a word found by one is found by the others: NFKC, casefold, no diacritics,
Serbian/Macedonian/Bulgarian Cyrillic and Greek to Latin (Косову -> kosovu, ΝΑΤΟ -> nato,
Lajčák -> lajcak, EULEX and Еулекс -> euleks), typographic apostrophes and hyphens to ASCII.

Folding is character by character, so a folded position maps back to the original (`Folded`):
snippets are shown in the article's own spelling and script.

FOLD_VERSION names this table. Anything derived from folded text and stored (dedup signatures,
the search index) records the version it was made with and is rebuilt when it changes.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right

FOLD_VERSION = 1

# Letters that NFD cannot take apart, after casefold. Serbian Cyrillic maps to Serbian Latin and
# then loses its diacritics like the Latin does (ш -> š -> s), so both scripts meet; x -> ks
# because Serbian and Macedonian write EULEX as Euleks/Еулекс; Greek υ -> u so that ου -> ou.
_LETTERS = {
    # Cyrillic: Serbian, Macedonian, then Bulgarian/Russian/Ukrainian extras
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "ђ": "dj", "е": "e", "ж": "z", "з": "z",
    "и": "i", "ј": "j", "к": "k", "л": "l", "љ": "lj", "м": "m", "н": "n", "њ": "nj", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "ћ": "c", "у": "u", "ф": "f", "х": "h", "ц": "c",
    "ч": "c", "џ": "dz", "ш": "s", "ѕ": "dz", "щ": "st", "ъ": "a",
    "ы": "y", "ь": "j", "э": "e", "ю": "ju", "я": "ja", "є": "je", "і": "i", "ґ": "g",
    # Greek
    "α": "a", "β": "v", "γ": "g", "δ": "d", "ε": "e", "ζ": "z", "η": "i", "θ": "th", "ι": "i",
    "κ": "k", "λ": "l", "μ": "m", "ν": "n", "ξ": "ks", "ο": "o", "π": "p", "ρ": "r", "σ": "s",
    "ς": "s", "τ": "t", "υ": "u", "φ": "f", "χ": "h", "ψ": "ps", "ω": "o",
    # Latin letters without a decomposition
    "đ": "dj", "ł": "l", "ø": "o", "æ": "ae", "œ": "oe", "þ": "th", "ð": "d", "ı": "i",
    "ħ": "h", "ŧ": "t", "x": "ks",
}  # fmt: skip
# Checked before NFD, which would strip the mark that makes these letters what they are.
_BEFORE_NFD = {"й": "j", "ї": "ji", "ѓ": "gj", "ќ": "kj"}
# Checked before NFKC: typographic apostrophes and hyphens become ASCII (NATO’s, KFOR‑i), and
# invisible characters vanish so "Ko\u00adsovo" is still one word.
_PUNCT = {
    "\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u02bb": "'", "`": "'", "\u00b4": "'",
    "\u2032": "'", "\uff07": "'", "\u2010": "-", "\u2011": "-", "\u00ad": "", "\u200b": "",
    "\u200c": "", "\u200d": "", "\u2060": "", "\ufeff": "",
}  # fmt: skip


def _fold_char(ch: str) -> str:
    if ch in _PUNCT:
        return _PUNCT[ch]
    out: list[str] = []
    for c in unicodedata.normalize("NFKC", ch).casefold():
        if c in _BEFORE_NFD:
            out.append(_BEFORE_NFD[c])
            continue
        for d in unicodedata.normalize("NFD", c):
            if not unicodedata.combining(d):
                out.append(_LETTERS.get(d, d))
    return "".join(out)


class _FoldTable(dict[int, str]):
    """str.translate table filled on first sight of each character, so folding runs in C."""

    def __missing__(self, key: int) -> str:
        value = _fold_char(chr(key))
        self[key] = value
        return value


_TABLE = _FoldTable()


def fold(text: str) -> str:
    """Fold `text` for matching and search: NFKC, casefold, no diacritics, Latin script.

    Character by character, so positions can be mapped back to the original (see `Folded`).
    """
    return text.translate(_TABLE)


class Folded:
    """A text and its folded form, with folded positions mapped back to the original."""

    __slots__ = ("original", "text", "_shifts")

    def __init__(self, original: str) -> None:
        self.original = original
        self.text = fold(original)
        self._shifts: _Shifts | None = None

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span that folded [start, end) came from, trailing accents included."""
        if self._shifts is None:  # built only for texts that matched something
            self._shifts = _Shifts(self.original)
        a = self._shifts.origin(start)
        b = self._shifts.origin(end - 1) + 1
        while b < len(self.original) and unicodedata.combining(self.original[b]):
            b += 1
        return a, b


class _Shifts:
    """Folded offsets back to original ones, from the few characters whose folded form is not one
    character (x -> ks, љ -> lj, a soft hyphen -> nothing): most characters fold one to one, so
    only those are recorded, found by a regex rather than a walk over every character."""

    __slots__ = ("at", "index", "size", "after")

    def __init__(self, original: str) -> None:
        self.at: list[int] = []  # folded offset where each such character's folded form starts
        self.index: list[int] = []  # its original index
        self.size: list[int] = []  # its folded length
        self.after: list[int] = []  # folded minus original offset after it
        odd = [c for c in set(original) if len(_TABLE[ord(c)]) != 1]
        if not odd:
            return
        delta = 0
        for m in re.finditer("[" + "".join(map(re.escape, odd)) + "]", original):
            size = len(_TABLE[ord(m.group())])
            self.at.append(m.start() + delta)
            self.index.append(m.start())
            self.size.append(size)
            delta += size - 1
            self.after.append(delta)

    def origin(self, folded: int) -> int:
        """The index of the original character that folded offset `folded` came from."""
        k = bisect_right(self.at, folded) - 1
        if k < 0:
            return folded
        if folded < self.at[k] + self.size[k]:
            return self.index[k]
        return folded - self.after[k]


def fold_with_origin(text: str) -> tuple[str, list[int]]:
    """`fold(text)` and, for each folded character, the index of the original character it came
    from (folding may change lengths: љ -> lj, x -> ks)."""
    folded: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        piece = _TABLE[ord(char)]
        folded.append(piece)
        origin.extend([index] * len(piece))
    return "".join(folded), origin
