"""The language of an article's text, for the region's languages, and the script of Serbian.

A page's declared language is often a template default (WordPress' lang="en-US" over
Albanian or Serbian text), so the text gets a say. A full statistical detector is
neither needed nor reliable here: Albanian, Macedonian and English are told apart by
letters and function words at a glance, and Bosnian, Croatian and Serbian are one
language to any general detector. Between those three only a few markers decide:
Serbian writes ekavian (vreme, gde, uvek), Croatian and Bosnian ijekavian (vrijeme,
gdje, uvijek); Croatian has its own words (tisuća, tjedan, tko, months like listopad),
Bosnian the ijekavian text with Serbian-like lexis (hiljada, historija, sedmica).
When the markers are too few, the text is "BCMS, undecided" and the page's declaration,
or else the outlet's configured language, decides. Costs a regex pass over the first
few thousand characters.
"""

from __future__ import annotations

import re
from collections import Counter

BCMS = frozenset({"bs", "hr", "sr", "sh", "cnr"})  # one macro-language, several standards
UNDECIDED_BCMS = "sh"  # returned by `detect` only: Serbo-Croatian, standard unknown
_WRITTEN_IN_BOTH = frozenset({"sr", "bs", "sh", "cnr"})
_SAMPLE = 4000
_MIN_WORDS = 12

_WORD = re.compile(r"\w+")
_LETTER = re.compile(r"[^\W\d_]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
_FUNCTION_WORDS = {
    "sq": {"dhe", "të", "në", "për", "është", "një", "nga", "që", "me", "nuk", "janë", "kjo"},
    "en": {"the", "and", "of", "to", "in", "is", "that", "for", "with", "was", "on", "are"},
    "bcms": {"je", "i", "u", "na", "da", "se", "su", "za", "od", "koji", "koja", "nije", "će"},
}
_MK_LETTERS = set("ѓќѕЃЌЅ")
_SR_LETTERS = set("ђћЂЋ")
_EAST_SLAVIC_LETTERS = set("ыэъёЫЭЪЁ")  # Russian, Bulgarian, Ukrainian: not ours to name

# Reflexes of old jat: the clearest line between Serbian and Croatian/Bosnian.
_EKAVIAN = re.compile(
    r"\b(?:vreme\w*|mest[aou]\w*|gde|uvek|pre|posle|reč\w*|dete|deca|dece|lep\w*|"
    r"bel[aio]\w*|ml?eko|nedel\w*|reka|reke|mesec\w*|cen[aeiu]|smer\w*|videti|razume\w*|"
    r"vreme|primer\w*|takođe|šta|hleb|pesm\w*|sedišt\w*|opština|opštin\w*)\b"
)
_IJEKAVIAN = re.compile(
    r"\b(?:vrijeme\w*|mjest\w*|gdje|uvijek|prije|poslije|riječ\w*|dijete|djeca|djece|"
    r"svijet\w*|lijep\w*|bijel\w*|mlijeko|rijeka|rijeke|mjesec\w*|cijen\w*|smjer\w*|"
    r"vidjeti|razumje\w*|primjer\w*|sjedišt\w*|pjesm\w*|hljeb)\b"
)
_CROATIAN = re.compile(
    r"\b(?:tisuć\w*|tjed\w*|tko|nitko|netko|europ\w*|sveučilišt\w*|zrakoplov\w*|vlak\w*|"
    r"obitelj\w*|izvješć\w*|priopć\w*|glede|siječnj\w*|veljač\w*|ožuj\w*|travnj\w*|"
    r"svibnj\w*|lipnj\w*|srpnj\w*|kolovoz\w*|rujn\w*|listopad\w*|studenog\w*|prosin\w*|"
    r"povijes\w*|kazališt\w*|sustav\w*|kruh\w*|točk\w*|glazb\w*|zrak\w*)\b"
)
_SERBIAN_LEXIS = re.compile(r"\b(?:hiljad\w*|evrop\w*|istorij\w*|historij\w*|sedmic\w*)\b")


def script(text: str) -> str | None:
    """ "cyrillic" or "latin", whichever most letters are in; None without letters."""
    sample = text[:_SAMPLE]
    letters = len(_LETTER.findall(sample))
    if not letters:
        return None
    cyrillic = len(_CYRILLIC.findall(sample))
    latin = len(_LATIN.findall(sample))
    if max(cyrillic, latin) < letters / 2:
        return None  # Greek, Arabic, CJK...: neither
    return "cyrillic" if cyrillic > latin else "latin"


def detect(text: str) -> str | None:
    """sq, mk, en, sr, hr, bs, "sh" (BCMS, standard undecided), or None (none of these)."""
    sample = text[:_SAMPLE]
    words = _WORD.findall(sample.casefold())
    if len(words) < _MIN_WORDS:
        return None
    if script(sample) == "cyrillic":
        return _detect_cyrillic(sample, words)
    counts = Counter(words)
    scores = {lang: sum(counts[w] for w in _FUNCTION_WORDS[lang]) for lang in ("sq", "en", "bcms")}
    best = max(scores, key=lambda lang: scores[lang])
    if scores[best] < 0.12 * len(words) or scores[best] < 2 * sorted(scores.values())[-2]:
        return None
    return _bcms_standard(sample.casefold()) if best == "bcms" else best


def _detect_cyrillic(sample: str, words: list[str]) -> str | None:
    if any(c in _EAST_SLAVIC_LETTERS for c in sample):
        return None
    counts = Counter(words)
    mk = sum(c in _MK_LETTERS for c in sample) + sum(counts[w] for w in ("во", "со", "ќе", "кои"))
    sr = sum(c in _SR_LETTERS for c in sample) + sum(counts[w] for w in ("у", "је", "са", "који"))
    if max(mk, sr) < 2:
        return None
    return "mk" if mk > sr else "sr"  # Bosnian and Montenegrin in Cyrillic are rare: Serbian


def _bcms_standard(folded: str) -> str:
    ekavian = len(_EKAVIAN.findall(folded))
    ijekavian = len(_IJEKAVIAN.findall(folded))
    croatian = len(_CROATIAN.findall(folded))
    serbian_lexis = len(_SERBIAN_LEXIS.findall(folded))
    if ekavian >= 2 and ekavian > 2 * ijekavian:
        return "sr"
    if croatian >= 2 and croatian > serbian_lexis and ekavian <= ijekavian:
        return "hr"
    if ijekavian >= 2 and serbian_lexis >= 1 and croatian == 0:
        return "bs"
    return UNDECIDED_BCMS


def resolve(declared: str | None, text: str) -> tuple[str | None, str | None]:
    """(language, script) to store: script only for languages written in both alphabets.

    The text decides between languages; among Bosnian, Croatian and Serbian the page's
    own declaration wins (an outlet knows which standard it writes), the markers decide
    when the page declares none of the three, and None is returned when they cannot, so
    that the caller falls back to the outlet's configured language.
    """
    detected = detect(text)
    if detected is None:
        language = declared
    elif detected in BCMS:
        language = declared if declared in BCMS else _or_none(detected)
    else:
        language = detected
    serbian_like = language in _WRITTEN_IN_BOTH or (language is None and detected in BCMS)
    return language, (script(text) if serbian_like else None)


def _or_none(detected: str) -> str | None:
    return None if detected == UNDECIDED_BCMS else detected
