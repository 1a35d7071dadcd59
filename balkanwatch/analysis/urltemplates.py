"""An outlet's article URL templates, learned from a few of its article URLs.

A URL path is read as a sequence of tokens, one per segment, each of a class: ``year``,
``num2`` (a month, a day, a page number), ``num`` (3-4 digits), ``id`` (5 digits or more),
``date`` (``2024-05-17``), ``slugid`` (``naslov-clanka-5412345``), ``slug`` (words joined by
``-`` or ``_``) and ``word`` (one word, kept literally: a section name). Numeric query values
with id-like keys (``?id=123456``) are tokens too.

``learn_templates`` groups example URLs by shape and generalises each position: a class stays
a class (any id, any slug), a literal seen with one value in every example stays that literal
(``/a/``, ``/vijesti/``), and a literal that varies becomes any section name. A numeric id
makes the slug beside it optional, because such CMSs serve the article by its id alone and
link both forms. The result, a ``UrlFilter``, matches URLs directly, serialises to JSON for
storage per outlet, and renders as one regular expression for ``article_pattern``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = [
    "MIN_EXAMPLES",
    "Template",
    "Token",
    "UrlFilter",
    "learn_templates",
    "path_tokens",
    "query_ids",
    "segment_token",
]

# Fewer examples than this say too little about which literals are constants.
MIN_EXAMPLES = 3
_EXTENSIONS = ("html", "htm", "shtml", "php", "asp", "aspx", "jsp", "cms")
_YEAR_RE = re.compile(r"(?:19|20)\d\d")
_DATE_RE = re.compile(r"(?:19|20)\d\d-?[01]\d-?[0-3]\d")
_DATE_SLUG_RE = re.compile(r"(?:19|20)\d\d-[01]\d-[0-3]\d[-_].+")
_WORD_SPLIT_RE = re.compile(r"[-_+.,~]+|\s+")
# Query keys that carry an article's id (WordPress ?p=, Joomla/custom ?id=, b92 ?nav_id=).
QUERY_ID_KEY_RE = re.compile(r"p|id|aid|nid|sid|nav_id|(?:article|news|story|post|vest)_?id")


@dataclass(frozen=True)
class Token:
    """One path segment: its class, the literal (for ``word`` only), its file extension."""

    cls: str
    literal: str | None = None
    ext: str = ""
    words: int = 0  # words of a slug, slugid or dateslug
    digits: int = 0  # digits of a number or of the id inside a slugid
    text: str = ""  # the segment as written (lower-cased, unquoted, without extension)


def segment_token(segment: str) -> Token:
    """The token of one (already unquoted) path segment."""
    token = _classify(segment)
    return Token(token.cls, token.literal, token.ext, token.words, token.digits, _stem(segment))


def _stem(segment: str) -> str:
    stem, dot, tail = segment.lower().rpartition(".")
    return stem if dot and stem and tail in _EXTENSIONS else segment.lower()


def _classify(segment: str) -> Token:
    text = segment.lower()
    ext = ""
    stem, dot, tail = text.rpartition(".")
    if dot and stem and tail in _EXTENSIONS:
        text, ext = stem, tail
    if text.isdigit():
        n = len(text)
        if n == 4 and _YEAR_RE.fullmatch(text):
            return Token("year", ext=ext, digits=n)
        cls = "num2" if n <= 2 else "num" if n <= 4 else "id"
        return Token(cls, ext=ext, digits=n)
    if _DATE_RE.fullmatch(text):
        return Token("date", ext=ext)
    words = [w for w in _WORD_SPLIT_RE.split(text) if w]
    if _DATE_SLUG_RE.fullmatch(text):
        return Token("dateslug", ext=ext, words=len(words) - 3)
    if len(words) >= 2:
        for edge in (words[-1], words[0]):
            # 5 digits at least: "2971-vota-pro..." is a headline that starts with a number
            if edge.isdigit() and len(edge) >= 5:
                return Token("slugid", ext=ext, words=len(words) - 1, digits=len(edge))
        return Token("slug", ext=ext, words=len(words))
    return Token("word", literal=text, ext=ext, words=1)


def path_tokens(url: str) -> list[Token]:
    path = unquote(urlsplit(url).path)
    return [segment_token(s) for s in path.split("/") if s]


def query_ids(url: str) -> dict[str, int]:
    """Id-like query keys with numeric values of 3 digits or more: ``{"id": 6}``."""
    found = {}
    for key, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        key = key.lower()
        if QUERY_ID_KEY_RE.fullmatch(key) and value.isdigit() and len(value) >= 3:
            found[key] = len(value)
    return found


# --- templates -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    """One position of a template: a class, and for ``word`` the literals it accepts
    (``None``: any section name)."""

    cls: str
    literals: tuple[str, ...] | None = None
    ext: str = ""
    optional: bool = False
    min_digits: int = 0

    def accepts(self, token: Token) -> bool:
        if token.ext != self.ext:
            return False
        if self.cls == "segment":  # any section name, one word or several
            return token.cls in ("word", "slug")
        if self.cls == "word":
            return token.cls == "word" and (self.literals is None or token.literal in self.literals)
        if self.cls in ("id", "slugid"):
            return token.cls == self.cls and token.digits >= self.min_digits
        return token.cls == self.cls

    def regex(self) -> str:
        digits = max(self.min_digits, 5)
        body = {
            "year": r"(?:19|20)\d\d",
            "num2": r"\d{1,2}",
            "num": r"\d{3,4}",
            "id": rf"\d{{{max(self.min_digits, 5)},}}",
            "date": r"(?:19|20)\d\d-?[01]\d-?[0-3]\d",
            "dateslug": r"(?:19|20)\d\d-[01]\d-[0-3]\d[-_][^/?#]+",
            "slugid": rf"(?:[^/?#]*[-_]\d{{{digits},}}|\d{{{digits},}}[-_][^/?#]*)",
            "slug": r"[^/?#.]*[-_][^/?#]*?",
            "segment": r"[^/?#.]+",
        }.get(self.cls)
        if self.cls == "word":
            body = (
                "(?:" + "|".join(re.escape(w) for w in self.literals) + ")"
                if self.literals
                else r"[^/?#.\-_]+"
            )
        ext = rf"\.{re.escape(self.ext)}" if self.ext else ""
        return f"{body}{ext}"


@dataclass(frozen=True)
class Template:
    slots: tuple[Slot, ...]  # the item part: from the id, date or headline slug on
    query: tuple[str, ...] = ()  # id-like query keys that must be present
    slash: str = "/"  # "/" always, "" never, "?" either: how the examples end
    prefix: str | None = None  # a first segment every example has (/a/, /sr/, /vijesti/)
    sections: tuple[int, int] = (0, 0)  # how many section segments may come before the item

    def matches(self, url: str) -> bool:
        parts = urlsplit(url)
        tokens = path_tokens(url)
        if self.query and not set(self.query) <= set(query_ids(url)):
            return False
        if not self.query and query_ids(url):
            return False
        ends_slash = parts.path.endswith("/") and bool(tokens)
        if (self.slash == "/" and not ends_slash) or (self.slash == "" and ends_slash):
            return False
        start = 0
        if self.prefix is not None:
            if not tokens or tokens[0].cls not in ("word", "slug") or tokens[0].text != self.prefix:
                return False
            start = 1
        low, high = self.sections
        for n in range(low, high + 1):
            head = tokens[start : start + n]
            if len(head) < n:
                break
            if all(_is_section(t) for t in head) and _fit(self.slots, tokens[start + n :]):
                return True
        return False

    def regex(self) -> str:
        path = f"/{re.escape(self.prefix)}" if self.prefix is not None else ""
        low, high = self.sections
        if high:
            path += rf"(?:/[^/?#.]+){{{low},{high}}}"
        for slot in self.slots:
            piece = "/" + slot.regex()
            path += f"(?:{piece})?" if slot.optional else piece
        tail = {"/": "/", "": "", "?": "/?"}[self.slash]
        query = "".join(rf"(?=(?:[^#]*[?&])?{re.escape(k)}=\d{{3,}})" for k in self.query)
        end = r"(?:[?#]|$)" if not self.query else ""
        return rf"^https?://[^/]+{path}{tail}{end}{query}"

    def describe(self) -> str:
        def one(s: Slot) -> str:
            text = "|".join(s.literals) if s.cls == "word" and s.literals else "{" + s.cls + "}"
            text += f".{s.ext}" if s.ext else ""
            return f"[{text}]" if s.optional else text

        head = [self.prefix] if self.prefix is not None else []
        low, high = self.sections
        if high:
            head.append(f"{{section x {low}-{high}}}")
        parts = head + [one(s) for s in self.slots]
        text = "/" + "/".join(parts) + ("/" if self.slash == "/" else "")
        return text + ("?" + "&".join(f"{k}={{id}}" for k in self.query) if self.query else "")


def _is_section(token: Token) -> bool:
    return token.cls in ("word", "slug") and not token.ext


def _fit(slots: Sequence[Slot], tokens: Sequence[Token]) -> bool:
    """Match tokens against slots, optional slots matching or being skipped."""
    if not slots:
        return not tokens
    head, rest = slots[0], slots[1:]
    if tokens and head.accepts(tokens[0]) and _fit(rest, tokens[1:]):
        return True
    return head.optional and _fit(rest, tokens)


@dataclass(frozen=True)
class UrlFilter:
    """An outlet's article URL templates: one filter for every link source."""

    templates: tuple[Template, ...] = ()
    examples: int = 0
    pattern: str | None = None  # a configured article_pattern, used instead of templates
    _compiled: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_pattern(cls, pattern: str) -> UrlFilter:
        return cls(pattern=pattern, _compiled=re.compile(pattern))

    def __bool__(self) -> bool:
        return bool(self.templates or self.pattern)

    def matches(self, url: str) -> bool:
        if self.pattern is not None:
            compiled = self._compiled or re.compile(self.pattern)
            return bool(compiled.search(url))
        return any(t.matches(url) for t in self.templates)

    def regex(self) -> str:
        """One regular expression (for ``article_pattern``) equivalent to the templates."""
        if self.pattern is not None:
            return self.pattern
        return "|".join(f"(?:{t.regex()})" for t in self.templates)

    def to_json(self) -> str:
        if self.pattern is not None:
            return json.dumps({"pattern": self.pattern})
        data = {
            "examples": self.examples,
            "templates": [
                {
                    "slots": [
                        [
                            s.cls,
                            list(s.literals) if s.literals else None,
                            s.ext,
                            s.optional,
                            s.min_digits,
                        ]
                        for s in t.slots
                    ],
                    "query": list(t.query),
                    "slash": t.slash,
                    "prefix": t.prefix,
                    "sections": list(t.sections),
                }
                for t in self.templates
            ],
        }
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> UrlFilter:
        data = json.loads(text)
        if "pattern" in data:
            return cls.from_pattern(data["pattern"])
        templates = tuple(
            Template(
                tuple(
                    Slot(c, tuple(lits) if lits else None, ext, opt, digits)
                    for c, lits, ext, opt, digits in t["slots"]
                ),
                tuple(t["query"]),
                t["slash"],
                t.get("prefix"),
                tuple(t.get("sections", (0, 0))),
            )
            for t in data["templates"]
        )
        return cls(templates=templates, examples=int(data.get("examples", 0)))

    def describe(self) -> list[str]:
        return (
            [f"pattern {self.pattern}"] if self.pattern else [t.describe() for t in self.templates]
        )


# --- learning ----------------------------------------------------------------------------


def _coarse(token: Token) -> str:
    """Classes that may share a template position: section names of one or more words."""
    return "text" if token.cls in ("word", "slug") else f"{token.cls}.{token.ext}"


def learn_templates(urls: Iterable[str], min_examples: int = MIN_EXAMPLES) -> UrlFilter:
    """Templates of the given article URLs; an empty filter from fewer than ``min_examples``.

    Shapes seen only once among many examples are kept too: a site's second URL form
    (a photo gallery's) is still the site's. URLs without an identity (a date, an id, a slug)
    teach nothing about articles and are left out.
    """
    samples = [(u, path_tokens(u), query_ids(u)) for u in dict.fromkeys(urls)]
    samples = [s for s in samples if s[1] or s[2]]
    if len(samples) < min_examples:
        return UrlFilter()
    groups: dict[tuple, list[tuple[str, list[Token], list[Token], dict[str, int]]]] = {}
    for url, tokens, query in samples:
        head, tail = _split(tokens)
        key = (tuple(_coarse(t) for t in tail), tuple(sorted(query)))
        groups.setdefault(key, []).append((url, head, tail, query))
    templates = [_generalise(members) for members in groups.values()]
    templates = _drop_covered(templates)
    return UrlFilter(templates=tuple(templates), examples=len(samples))


def _split(tokens: list[Token]) -> tuple[list[Token], list[Token]]:
    """(sections, item): the item starts at the first id or date, with a slug just before an
    id that ends the path (/a/slug/123.html); without either, it is the last segment."""
    start = next(
        (i for i, t in enumerate(tokens) if t.cls in ("id", "slugid", "date", "dateslug", "year")),
        len(tokens) - 1,
    )
    if (
        0 < start == len(tokens) - 1
        and tokens[start].cls == "id"
        and tokens[start - 1].cls == "slug"
    ):
        start -= 1
    head = tokens[: max(start, 0)]
    if not all(_is_section(t) for t in head):
        return [], tokens
    return head, tokens[max(start, 0) :]


def _generalise(members: list[tuple[str, list[Token], list[Token], dict[str, int]]]) -> Template:
    columns = list(zip(*(tail for _, _, tail, _ in members), strict=True))
    slots = [_slot(column) for column in columns]
    query = members[0][3]
    if any(s.cls in ("id", "slugid") for s in slots) or query:
        # the slug beside an id is decorative: /a/slug/123.html is also /a/123.html
        slots = [_decorative(slots, i) for i in range(len(slots))]
    endings = {urlsplit(u).path.endswith("/") for u, _, _, _ in members}
    slash = "?" if len(endings) == 2 else ("/" if endings == {True} else "")
    prefix, sections = _head([head for _, head, _, _ in members])
    return Template(tuple(slots), tuple(sorted(query)), slash, prefix, sections)


def _head(heads: list[list[Token]]) -> tuple[str | None, tuple[int, int]]:
    """A first segment all examples share is kept (the strict reading: /a/, /sr/, or the one
    section the examples came from); the sections after it may vary in name, and nest one
    level deeper than seen (/sr/zabava/zanimljivosti/ beside /sr/politika/)."""
    first = {h[0].text for h in heads if h}
    prefix = first.pop() if len(first) == 1 and all(heads) else None
    rest = [len(h) - (prefix is not None) for h in heads]
    low, high = min(rest), max(rest)
    return prefix, (low, high + 1 if high else 0)


def _decorative(slots: list[Slot], i: int) -> Slot:
    """A slug slot next to an id slot becomes optional."""
    slot = slots[i]
    near_id = any(s.cls == "id" for s in slots[max(0, i - 1) : i + 2])
    if slot.cls not in ("slug", "segment") or not near_id:
        return slot
    return Slot(slot.cls, slot.literals, slot.ext, True, slot.min_digits)


def _slot(column: tuple[Token, ...]) -> Slot:
    ext = column[0].ext
    classes = {t.cls for t in column}
    if classes == {"word"}:
        literals = sorted({t.literal for t in column if t.literal})
        # One value in every example is a constant of the site (/a/, /vijesti/) or the one
        # section the examples came from: kept, as the strict reading. Values that vary are
        # sections, and any section will do.
        if len(literals) == 1:
            return Slot("word", tuple(literals), ext)
        return Slot("word", None, ext)
    if classes <= {"word", "slug"}:
        return Slot("segment" if "word" in classes else "slug", None, ext)
    cls = next(iter(classes))
    digits = min(t.digits for t in column)
    # Ids grow: accept one digit fewer than the shortest seen, never fewer than 5.
    return Slot(cls, None, ext, False, max(5, digits - 1) if cls in ("id", "slugid") else 0)


def _drop_covered(templates: list[Template]) -> list[Template]:
    unique: list[Template] = []
    for template in templates:
        if template not in unique:
            unique.append(template)
    return unique
