"""Page bytes to text, for the encodings the Balkan web really sends.

Declarations lie: a Serbian or Bosnian site moved to a new server keeps its windows-1250 or
windows-1251 pages while the server now says UTF-8, or a template moved to UTF-8 keeps the old
meta tag. Decoding by the declaration alone stores "Pri�tini (�a�ak �abac)" or "ÄŤ". So the
declared decoding is checked for plausibility (no U+FFFD, no C1 controls, no Latin letter glued
to a Cyrillic one, no run of characters that is really UTF-8 misread, letters the outlet's
language uses) and, when it fails, the plausible candidates compete: our score on the region's
alphabets decides, charset-normalizer (constrained to the same candidates) breaks near-ties.

The common path must stay cheap, it runs on every page: ASCII and valid UTF-8 are decoded once,
and only their non-ASCII bytes are searched for the marks of double-encoded text (about 40 µs
on a 110 KB page, bench/bench_charset.py). Non-ASCII text that validates as UTF-8 is practically
never in a legacy encoding, whatever the page declares. Pure: no I/O, never raises.
"""

from __future__ import annotations

import codecs
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from w3lib.encoding import html_body_declared_encoding, read_bom, resolve_encoding

__all__ = ["Decoded", "decode", "decode_html", "decode_xml", "xml_declared", "xml_to_utf8"]

# What pages in the region are written in when they are not UTF-8, in the order a tie is
# settled. ISO-8859-5 and KOI8 are left out of guessing: regional Cyrillic sites used
# windows-1251, and look-alike Cyrillic code pages would only make guesses worse (a page that
# declares one still gets it as a candidate).
LEGACY = ("cp1250", "cp1251", "iso8859-2", "cp1252")
# The code page a language's sites used: first among equals (Albanian reads the same in three).
CODEPAGE = {"sq": "cp1252", "mk": "cp1251", "bg": "cp1251", "ru": "cp1251", "uk": "cp1251"}


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str  # Python codec name the text was decoded with ("utf-8", "cp1250", ...)
    declared: str | None = None  # codec of the first declaration examined, if any
    fallback: str | None = None  # codec of the stray non-UTF-8 bytes in a UTF-8 page
    undoubled: str | None = None  # code page a double-encoded UTF-8 text was reversed through

    @property
    def overridden(self) -> bool:
        """The declaration was not believed."""
        return self.declared is not None and self.declared != self.encoding

    @property
    def note(self) -> str | None:
        """For the crawl log: how the text was decoded, when not as the page said."""
        if self.undoubled:
            return f"double-encoded UTF-8 (through {self.undoubled}) repaired"
        if not (self.overridden or self.fallback):
            return None
        said = f"declared {self.declared}" if self.declared else "no charset declared"
        stray = f", stray bytes as {self.fallback}" if self.fallback else ""
        return f"{said}, decoded as {self.encoding}{stray}"


# --- alphabets -------------------------------------------------------------------------------


def _both(letters: str) -> str:
    return letters + letters.upper()


_SH_LATIN = _both("čćšžđ")  # Serbian, Croatian, Bosnian, Montenegrin Latin
_SQ = _both("ëç")
_CYR_SR = _both("абвгдђежзијклљмнњопрстћуфхцчџш")
_CYR_MK = _both("абвгдѓежзѕијклљмнњопрстќуфхцчџш")
_CYR_BG = _both("абвгдежзийклмнопрстуфхцчшщъьюя")
_CYR_RU = _CYR_BG + _both("ёыэ")
_CYR_UK = _both("абвгґдеєжзиіїйклмнопрстуфхцчшщьюя")
_REGION = _SH_LATIN + _SQ + _CYR_SR + _CYR_MK + _CYR_BG

EXPECTED: dict[str, str] = {
    "sq": _SQ,
    "sr": _SH_LATIN + _CYR_SR,
    "bs": _SH_LATIN + _CYR_SR,
    "hr": _SH_LATIN,
    "sh": _SH_LATIN + _CYR_SR,
    "cnr": _SH_LATIN + _both("śź") + _CYR_SR,
    "mk": _CYR_MK,
    "bg": _CYR_BG,
    "ru": _CYR_RU,
    "uk": _CYR_UK,
    "sl": _both("čšž"),
    "ro": _both("ăâîșțşţ"),
    "tr": _both("çğöşü") + "ıİ",
    "hu": _both("áéíóöőúüű"),
    "de": _both("äöü") + "ß",
}
# Foreign names and loanwords in any of the region's languages: neither evidence for nor against.
_NEUTRAL_LETTERS = _both("áàâäéèêíîóôöúùûüñøåæœ") + "ß" + _REGION
# Typographic characters of ordinary text in every candidate encoding.
_NEUTRAL_SYMBOLS = "\u00a0\u00ad„“”‘’‚«»‹›–—…•·€©®°§±×™′″\u200b\u200c\u200d\u2009\u202f¦¤"

_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_MIXED_SCRIPT = re.compile(r"[A-Za-z][\u0400-\u04ff]|[\u0400-\u04ff][A-Za-z]")
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]{2,}")


def _mojibake_pattern() -> re.Pattern[str]:
    """A UTF-8 lead byte followed by a continuation byte, as the legacy code pages show them."""
    leads, conts = set(), set()
    for codec in ("cp1252", "cp1250", "latin-1"):
        leads |= {bytes([b]).decode(codec, "ignore") for b in range(0xC2, 0xE0)}
        conts |= {bytes([b]).decode(codec, "ignore") for b in range(0x80, 0xC0)}
    lead = "".join(re.escape(c) for c in sorted(leads - {""}))
    cont = "".join(re.escape(c) for c in sorted(conts - {""}))
    return re.compile(f"[{lead}][{cont}]|[\\x80-\\x9f]")


_ASCII = bytes(range(0x80))
# In text decoded as valid UTF-8: C1 controls or "Ã«"-like pairs, the marks of text that was
# decoded in a legacy code page and encoded to UTF-8 again (double-encoded) upstream.
_SUSPECT_UTF8 = _mojibake_pattern()


# --- plausibility ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Verdict:
    score: float  # mean per non-ASCII character, from -3 (impossible) to 1 (the language's)
    clean: bool  # nothing a correct decoding would show


def _expected(language: str | None) -> str:
    return EXPECTED.get((language or "").lower(), _REGION)


def _judge(text: str, expected: str, codec: str) -> _Verdict:
    chars = Counter(_NON_ASCII.findall(text))
    total = sum(chars.values())
    if not total:
        return _Verdict(0.0, True)
    good = bad = impossible = 0
    for char, n in chars.items():
        if char in expected:
            good += n
        elif char in _NEUTRAL_SYMBOLS or char in _NEUTRAL_LETTERS:
            continue
        elif "\x80" <= char <= "\x9f" or char == "\ufffd":
            impossible += n
        else:
            bad += n
    mixed = len(_MIXED_SCRIPT.findall(text))
    misread = _misread_utf8_runs(text, codec)
    score = (good - bad - 3 * impossible - 2 * mixed - 2 * misread) / total
    clean = not (impossible or mixed or misread) and bad <= 0.05 * total
    return _Verdict(score, clean)


def _misread_utf8_runs(text: str, codec: str) -> int:
    """Runs of non-ASCII characters whose bytes in `codec` are valid UTF-8: "Ä\x8d", "Ã«"."""
    if codec.startswith("utf"):
        return 0
    found = 0
    for run in set(_NON_ASCII_RUN.findall(text)):
        try:
            run.encode(codec).decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
        found += 1
    return found


# --- decoding --------------------------------------------------------------------------------


def _codec(label: str | None) -> str | None:
    """Python codec for a charset label, the way browsers read labels (latin-1 is cp1252)."""
    if not label:
        return None
    resolved = resolve_encoding(label.strip().strip("\"'"))
    return codecs.lookup(resolved).name if resolved else None


def _strict(body: bytes, codec: str) -> str | None:
    try:
        return body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _legacy_fallback(codec: str) -> str:
    """An error handler name: UTF-8 bytes that do not decode are read in `codec` instead."""
    name = f"balkanwatch-{codec}"

    def handler(err: UnicodeError) -> tuple[str, int]:
        assert isinstance(err, UnicodeDecodeError)
        return err.object[err.start : err.end].decode(codec, "replace"), err.end

    try:
        codecs.lookup_error(name)
    except LookupError:
        codecs.register_error(name, handler)
    return name


def _c1_passthrough(err: UnicodeError) -> tuple[bytes, int]:
    """Encoding back to a Windows code page: the bytes it leaves undefined were carried as
    C1 controls by the system that double-encoded the text (MySQL's latin1 does this)."""
    assert isinstance(err, UnicodeEncodeError)
    chunk = err.object[err.start : err.end]
    if all(ord(c) < 0x100 for c in chunk):
        return bytes(ord(c) for c in chunk), err.end
    raise err


codecs.register_error("balkanwatch-c1", _c1_passthrough)


def decode(
    body: bytes, declared: Iterable[str | None] = (), language: str | None = None
) -> Decoded:
    """Decode `body`; `declared` are the page's charset labels, most authoritative first (it
    may be lazy: it is only read when the bytes are not valid UTF-8); `language` the outlet's
    ISO 639-1 code, or None for the whole region's alphabets."""
    bom, mark = read_bom(body)
    if bom and mark:  # the BOM settles it, as in browsers
        codec = codecs.lookup(bom).name
        return Decoded(body[len(mark) :].decode(codec, "replace"), codec, codec)
    if body.isascii():
        return Decoded(body.decode("ascii"), "ascii")
    text = _strict(body, "utf-8")
    if text is not None:
        # Searched first in the non-ASCII bytes alone (a C-speed translate): a clean page is
        # never scanned character by character, a hit is confirmed in the text.
        residue = body.translate(None, _ASCII).decode("utf-8")
        if not _SUSPECT_UTF8.search(residue) or not _SUSPECT_UTF8.search(text):
            return Decoded(text, "utf-8")
        return _undouble(text, _expected(language))
    if b"\x00" in body:  # binary, not text in any candidate: nothing to choose between
        return Decoded(body.decode("utf-8", "replace"), "utf-8")
    return _decode_legacy(body, declared, language)


def _undouble(text: str, expected: str) -> Decoded:
    """Valid UTF-8 that reads as mojibake: text decoded in a code page and encoded to UTF-8
    again before it reached us. Reversed only where the whole text reverses and reads better."""
    best = Decoded(text, "utf-8")
    best_score = _judge(text, expected, "utf-8").score
    for codec in ("cp1252", "cp1250"):
        try:
            repaired = text.encode(codec, "balkanwatch-c1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
        score = _judge(repaired, expected, "utf-8").score
        if score > best_score:
            best, best_score = Decoded(repaired, "utf-8", undoubled=codec), score
    return best


def _decode_legacy(body: bytes, declared: Iterable[str | None], language: str | None) -> Decoded:
    """Bytes that are not UTF-8: the first declaration that reads plausibly, else the best
    candidate."""
    expected = _expected(language)
    named = _unique(_codec(label) for label in declared)
    first = named[0] if named else None
    # Candidates differ only where the bytes are not ASCII: they are judged on those stretches
    # (with a byte of context each side, for a letter glued to another script), and the page
    # is decoded once, with the winner.
    digest = _digest(body)
    for codec in named:
        text = _strict(digest, codec)
        if text is not None and _judge(text, expected, codec).clean:
            return Decoded(body.decode(codec, "replace"), codec, first)
    scored: list[tuple[float, str, str | None]] = []  # (score, codec, fallback)
    for codec in _unique([*named, CODEPAGE.get(language or ""), *LEGACY]):
        if codec != "utf-8":
            text = digest.decode(codec, "replace")
            scored.append((_judge(text, expected, codec).score, codec, None))
    # The detector and the language's usual code page settle only what our score leaves
    # close; where they disagree on equals, the language's code page (listed first) stays.
    preferred = {_detector_choice(body, [c for _, c, _ in scored])}
    usual = CODEPAGE.get(language or "")
    scored = [(s + 0.25 * ((c in preferred) + (c == usual)), c, f) for s, c, f in scored]
    # A UTF-8 page with a few stray legacy bytes (an old snippet pasted in) is UTF-8, with those
    # bytes read in the code page that makes them plausible rather than replaced. Listed after
    # the code pages: on a page that is all legacy bytes both read the same, and max keeps the
    # first of equals.
    if _mostly_utf8(digest):
        for codec in LEGACY:
            text = digest.decode("utf-8", _legacy_fallback(codec))
            scored.append((_judge(text, expected, "utf-8").score, "utf-8", codec))
    _, codec, fallback = max(scored, key=lambda s: s[0])
    if fallback:
        return Decoded(body.decode("utf-8", _legacy_fallback(fallback)), codec, first, fallback)
    return Decoded(body.decode(codec, "replace"), codec, first)


def _mostly_utf8(digest: bytes) -> bool:
    """More valid UTF-8 characters than stray bytes: worth reading as UTF-8 with strays."""
    text = digest.decode("utf-8", "replace")
    strays = text.count("\ufffd")
    return len(_NON_ASCII.findall(text)) > 2 * strays


_NON_ASCII_BYTES = re.compile(rb"[\x80-\xff]+")


def _digest(body: bytes) -> bytes:
    """The non-ASCII stretches of `body`, a byte of context each side, one per line."""
    return b"\n".join(
        body[max(m.start() - 1, 0) : m.end() + 1] for m in _NON_ASCII_BYTES.finditer(body)
    )


def _detector_choice(body: bytes, candidates: list[str]) -> str | None:
    from charset_normalizer import from_bytes

    try:
        best = from_bytes(body, cp_isolation=candidates, preemptive_behaviour=False).best()
    except Exception:  # hostile bytes reach third-party code; our own score still decides
        return None
    return codecs.lookup(best.encoding).name if best else None


def _unique(codecs_: Iterable[str | None]) -> list[str]:
    return list(dict.fromkeys(c for c in codecs_ if c))


# --- documents -------------------------------------------------------------------------------


def decode_html(body: bytes, header: str | None = None, language: str | None = None) -> Decoded:
    """An HTML page: the HTTP header's charset, then the page's own meta tag (read only when
    the bytes are not UTF-8)."""
    return decode(body, _lazy(lambda: header, lambda: html_body_declared_encoding(body)), language)


_XML_DECL = re.compile(rb"^\s*<\?xml[^>]*?\bencoding\s*=\s*[\"']([A-Za-z0-9._:-]+)[\"']")
_XML_DECL_TEXT = re.compile(r"^(\s*<\?xml[^>]*?\bencoding\s*=\s*)[\"'][^\"']*[\"']")


def xml_declared(body: bytes) -> str | None:
    """The encoding an XML document's declaration names, if any."""
    found = _XML_DECL.match(body[:512])
    return found.group(1).decode("ascii") if found else None


def decode_xml(body: bytes, header: str | None = None, language: str | None = None) -> Decoded:
    """A feed or sitemap: its XML declaration before the HTTP header (servers get the header
    wrong more often than feeds get their declaration)."""
    return decode(body, _lazy(lambda: xml_declared(body), lambda: header), language)


def xml_to_utf8(body: bytes, header: str | None = None, language: str | None = None) -> bytes:
    """The feed or sitemap for an XML parser: unchanged when its own declaration (or UTF-8, if
    it declares none) is right, else re-encoded as UTF-8 with the declaration rewritten."""
    if body.isascii():  # most sitemaps: no copy of a large body
        return body
    decoded = decode_xml(body, header, language)
    if read_bom(body)[0]:
        return body
    own = _codec(xml_declared(body)) or "utf-8"
    if decoded.encoding in (own, "ascii") and not (decoded.fallback or decoded.undoubled):
        return body
    return _XML_DECL_TEXT.sub(r'\1"UTF-8"', decoded.text, count=1).encode("utf-8")


def _lazy(*getters: Callable[[], str | None]) -> Iterator[str | None]:
    for get in getters:
        yield get()
