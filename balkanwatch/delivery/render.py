"""Alert messages: one story (instant) or one period's stories (digest) as subject, text, HTML and
Markdown for Slack; and masking of the secrets apprise URLs carry.

Everything here is pure: the caller delivers the `Message` (apprise) and owns the clock. Titles,
snippets, outlet names and URLs come from outlets, i.e. from strangers, so each format escapes
them its own way: the subject is one line of printable characters (no header injection), HTML is
`html.escape`d, Markdown has the characters that make links, tags and mentions backslash-escaped,
and only http(s) URLs become links.

Why Markdown and not Slack's own mrkdwn: apprise 2.x converts a body declared as Markdown into
mrkdwn itself (`**b**` -> `*b*`, `[label](<url>)` -> `<url|label>`, `&` -> `&amp;`,
`\\<` -> `&lt;`), so a body already in mrkdwn would be escaped twice and its bold turned into
italics.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from balkanwatch.core.folding import fold, fold_with_origin

SUBJECT_MAX = 200  # characters; long subjects are cut by mail clients anyway
SNIPPET_MAX = 500  # the matcher's snippet is short; this only bounds a hostile one
DIGEST_SNIPPET_MAX = 240  # a digest lists many stories: keep each one glanceable

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class StoryView:
    """What an alert shows about one story."""

    title: str
    url: str
    outlet: str  # the outlet's display title
    published: datetime | None  # tz-aware
    topic_title: str
    terms: Sequence[str]  # the words that matched, as they appeared
    snippet: str
    also: Sequence[tuple[str, str]] = ()  # other outlets carrying the story: (outlet title, url)


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    html: str
    markdown: str  # CommonMark; send with body_format=MARKDOWN, apprise makes Slack mrkdwn of it
    # Set by the deliverer for each URL (see balkanwatch.delivery.message_id); empty for a test.
    message_id: str = ""
    alert_id: int | None = None


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


def _md_link(url: str, label: str) -> str:
    target = safe_url(url)
    if target is None:
        return md_escape(label)
    return f"[{md_escape(label)}](<{target}>)"


def _visible_url(url: str, margin: str) -> str:
    """The address as text too: the plain-text part apprise derives from the HTML drops hrefs,
    and on a phone it can be copied."""
    style = f"{margin};font-size:13px;color:#555555;word-break:break-all"
    return f'<div style="{style}">{html.escape(clean_line(url))}</div>'


def _html_link(url: str, label: str, style: str = "color:#0b57d0") -> str:
    target = safe_url(url)
    if target is None:
        return html.escape(label)
    return f'<a href="{html.escape(target)}" style="{style}">{html.escape(label)}</a>'


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


def _emphasise(
    text: str, terms: Sequence[str], plain: Callable[[str], str], strong: Callable[[str], str]
) -> str:
    out: list[str] = []
    last = 0
    for start, end in emphasis_spans(text, terms):
        out.append(plain(text[last:start]))
        out.append(strong(text[start:end]))
        last = end
    out.append(plain(text[last:]))
    return "".join(out)


Style = tuple[Callable[[str], str], Callable[[str], str]]  # (plain text, emphasised word)
_TEXT: Style = (str, lambda word: f"*{word}*")
_MARKDOWN: Style = (md_escape, lambda word: f"**{md_escape(word)}**")
_HTML: Style = (html.escape, lambda word: f"<strong>{html.escape(word)}</strong>")


def _snippet(snippet: str, terms: Sequence[str], limit: int, style: Style) -> str:
    return _emphasise(trim(clean_line(snippet), limit), terms, *style)


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


def _when(story: StoryView, tz: tzinfo) -> str:
    return format_time(story.published, tz) if story.published else "time not given"


# -- instant alerts --------------------------------------------------------------------------


def render_instant(story: StoryView, tz: tzinfo) -> Message:
    """One alert for one story, as it arrives."""
    title = clean_line(story.title) or "(untitled)"
    outlet = clean_line(story.outlet)
    topic = clean_line(story.topic_title)
    terms = [clean_line(t) for t in story.terms if clean_line(t)]
    return Message(
        subject=_instant_subject(title, outlet, topic),
        text=_instant_text(story, title, outlet, topic, terms, tz),
        html=_instant_html(story, title, outlet, topic, terms, tz),
        markdown=_instant_markdown(story, title, outlet, topic, terms, tz),
    )


def _instant_subject(title: str, outlet: str, topic: str) -> str:
    """`[topic] title — outlet`; the title gives way first when it is too long."""
    prefix = f"[{trim(topic, 60)}] " if topic else ""
    suffix = f" — {trim(outlet, 40)}" if outlet else ""
    return prefix + trim(title, max(20, SUBJECT_MAX - len(prefix) - len(suffix))) + suffix


def _also(story: StoryView) -> list[tuple[str, str]]:
    return [(clean_line(name) or clean_line(url), clean_line(url)) for name, url in story.also]


def _instant_text(
    story: StoryView, title: str, outlet: str, topic: str, terms: list[str], tz: tzinfo
) -> str:
    lines = [f"New story on {topic}:"] if topic else []
    lines += [title, f"{outlet} · {_when(story, tz)}"]
    if terms:
        lines.append("Matched: " + ", ".join(terms))
    snippet = _snippet(story.snippet, terms, SNIPPET_MAX, _TEXT)
    if snippet:
        lines += ["", snippet]
    lines += ["", f"Read it: {clean_line(story.url)}"]
    also = _also(story)
    if also:
        lines += ["", "Also reported by:"] + [f"- {name}: {url}" for name, url in also]
    return "\n".join(lines) + "\n"


def _instant_markdown(
    story: StoryView, title: str, outlet: str, topic: str, terms: list[str], tz: tzinfo
) -> str:
    lines = [md_escape(f"New story on {topic}")] if topic else []
    lines += [f"**{_md_link(story.url, title)}**", md_escape(f"{outlet} · {_when(story, tz)}")]
    if terms:
        lines.append(md_escape("Matched: " + ", ".join(terms)))
    snippet = _snippet(story.snippet, terms, SNIPPET_MAX, _MARKDOWN)
    if snippet:
        lines += ["", snippet]
    also = _also(story)
    if also:
        lines += ["", "Also reported by: " + ", ".join(_md_link(u, n) for n, u in also)]
    return "\n".join(lines) + "\n"


_PAGE = (
    '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1"></head>\n'
    '<body style="margin:0;padding:16px;background:#ffffff;color:#1a1a1a;'
    "font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;"
    'font-size:16px;line-height:1.5">\n<div style="max-width:640px;margin:0 auto">\n'
    "{body}</div>\n</body></html>\n"
)
_MUTED = "margin:0 0 8px;font-size:14px;color:#555555"
_PARA = "margin:0 0 12px"


def _instant_html(
    story: StoryView, title: str, outlet: str, topic: str, terms: list[str], tz: tzinfo
) -> str:
    parts = []
    if topic:
        parts.append(f'<p style="{_MUTED}">New story on {html.escape(topic)}</p>')
    parts.append(
        '<h1 style="margin:0 0 8px;font-size:20px;line-height:1.3">'
        f"{_html_link(story.url, title, 'color:#0b57d0;text-decoration:none')}</h1>"
    )
    parts.append(f'<p style="{_MUTED}">{html.escape(outlet)} · {html.escape(_when(story, tz))}</p>')
    snippet = _snippet(story.snippet, terms, SNIPPET_MAX, _HTML)
    if snippet:
        parts.append(f'<p style="{_PARA}">{snippet}</p>')
    if terms:
        parts.append(f'<p style="{_MUTED}">Matched: {html.escape(", ".join(terms))}</p>')
    button = "display:inline-block;padding:8px 16px;background:#0b57d0;color:#ffffff;"
    button += "border-radius:4px;text-decoration:none"
    parts.append(f'<p style="{_PARA}">{_html_link(story.url, "Read the story", button)}</p>')
    parts.append(_visible_url(story.url, _PARA))
    also = _also(story)
    if also:
        links = ", ".join(_html_link(url, name) for name, url in also)
        parts.append(f'<p style="{_MUTED}">Also reported by: {links}</p>')
    return _PAGE.format(body="".join(f"{p}\n" for p in parts))


# -- digests ---------------------------------------------------------------------------------


def _newest_first(stories: Sequence[StoryView]) -> list[StoryView]:
    """Newest first; stories without a time go last, in their given order."""
    dated = [s for s in stories if s.published is not None]
    dated.sort(key=lambda s: s.published.timestamp() if s.published else 0.0, reverse=True)
    return dated + [s for s in stories if s.published is None]


def group_by_topic(stories: Sequence[StoryView]) -> list[tuple[str, list[StoryView]]]:
    """Topics in the order of their newest story, each topic's stories newest first."""
    groups: dict[str, list[StoryView]] = {}
    for story in _newest_first(stories):
        groups.setdefault(clean_line(story.topic_title), []).append(story)
    return list(groups.items())


def render_digest(
    stories: Sequence[StoryView],
    period_start: datetime,
    period_end: datetime,
    tz: tzinfo,
    subscriber: str,
) -> Message:
    """One summary of a period's stories for one subscriber."""
    groups = group_by_topic(stories)
    count = len({s.url.strip() for s in stories})
    noun = "story" if count == 1 else "stories"
    period = format_period(period_start, period_end, tz, zone=False)
    subject = trim(clean_line(f"balkanwatch digest: {count} {noun}, {period}"), SUBJECT_MAX)
    heading = f"balkanwatch digest for {clean_line(subscriber)}"
    summary = f"{count} {noun}, {format_period(period_start, period_end, tz)}"
    return Message(
        subject=subject,
        text=_digest_text(groups, heading, summary, tz),
        html=_digest_html(groups, heading, summary, tz),
        markdown=_digest_markdown(groups, heading, summary, tz),
    )


def _outlets(story: StoryView) -> str:
    names = [clean_line(story.outlet)] + [name for name, _ in _also(story)]
    return ", ".join(n for n in names if n)


def _digest_text(
    groups: list[tuple[str, list[StoryView]]], heading: str, summary: str, tz: tzinfo
) -> str:
    lines = [heading, summary]
    if not groups:
        lines += ["", "No new stories in this period."]
    for topic, stories in groups:
        lines += ["", f"== {topic or 'Other'} ({len(stories)}) =="]
        for story in stories:
            lines += ["", f"* {clean_line(story.title) or '(untitled)'}"]
            lines.append(f"  {_outlets(story)} · {_when(story, tz)}")
            snippet = _snippet(story.snippet, story.terms, DIGEST_SNIPPET_MAX, _TEXT)
            if snippet:
                lines.append(f"  {snippet}")
            lines.append(f"  {clean_line(story.url)}")
    return "\n".join(lines) + "\n"


def _digest_markdown(
    groups: list[tuple[str, list[StoryView]]], heading: str, summary: str, tz: tzinfo
) -> str:
    lines = [f"**{md_escape(heading)}**", md_escape(summary)]
    if not groups:
        lines += ["", "No new stories in this period."]
    for topic, stories in groups:
        lines += ["", f"**{md_escape(topic or 'Other')}** ({len(stories)})"]
        for story in stories:
            title = clean_line(story.title) or "(untitled)"
            meta = md_escape(f"{_outlets(story)} · {_when(story, tz)}")
            lines.append(f"• {_md_link(story.url, title)} — {meta}")
            snippet = _snippet(story.snippet, story.terms, DIGEST_SNIPPET_MAX, _MARKDOWN)
            if snippet:
                lines.append(snippet)
    return "\n".join(lines) + "\n"


def _digest_html(
    groups: list[tuple[str, list[StoryView]]], heading: str, summary: str, tz: tzinfo
) -> str:
    parts = [
        f'<h1 style="margin:0 0 4px;font-size:20px">{html.escape(heading)}</h1>',
        f'<p style="{_MUTED}">{html.escape(summary)}</p>',
    ]
    if not groups:
        parts.append(f'<p style="{_PARA}">No new stories in this period.</p>')
    for topic, stories in groups:
        parts.append(
            '<h2 style="margin:20px 0 8px;font-size:17px;border-bottom:1px solid #dddddd">'
            f"{html.escape(topic or 'Other')} ({len(stories)})</h2>"
        )
        for story in stories:
            title = clean_line(story.title) or "(untitled)"
            snippet = _snippet(story.snippet, story.terms, DIGEST_SNIPPET_MAX, _HTML)
            parts.append(
                '<div style="margin:0 0 14px">'
                f'<div style="font-weight:bold">{_html_link(story.url, title)}</div>'
                f'<div style="font-size:14px;color:#555555">'
                f"{html.escape(_outlets(story))} · {html.escape(_when(story, tz))}</div>"
                + (f'<div style="font-size:15px">{snippet}</div>' if snippet else "")
                + _visible_url(story.url, "margin:0")
                + "</div>"
            )
    return _PAGE.format(body="".join(f"{p}\n" for p in parts))
