"""Alert messages: one story (instant), one period's stories (digest) or an outlet's health
(operator) as subject, text, HTML and Markdown for Slack, written from templates.

Everything here is pure: the caller delivers the `Message` (apprise) and owns the clock. Each
kind has one view model (`StoryView`, a digest's list of them, `OperatorView`); `lines_of` turns a
story into what templates show (`StoryLines`: every value on one clean line, the snippet as
plain and matched runs, links with the URL they may point to). The templates
(`balkanwatch/delivery/templates/`, overridable with `settings.templates_dir`) lay it out, and
the template engine escapes each format its own way (see `templating.py`).

Why Markdown and not Slack's own mrkdwn: apprise 2.x converts a body declared as Markdown into
mrkdwn itself (`**b**` -> `*b*`, `[label](<url>)` -> `<url|label>`, `&` -> `&amp;`,
`\\<` -> `&lt;`), so a body already in mrkdwn would be escaped twice and its bold turned into
italics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from balkanwatch.core.secrets import mask_secrets
from balkanwatch.delivery.escaping import (
    Piece,
    clean_line,
    emphasis_spans,
    format_period,
    format_time,
    md_escape,
    pieces,
    safe_url,
    trim,
)
from balkanwatch.delivery.templating import Templates, templates_for

__all__ = [
    "DIGEST_SNIPPET_MAX",
    "SNIPPET_MAX",
    "SUBJECT_MAX",
    "Link",
    "Message",
    "OperatorView",
    "StoryLines",
    "StoryView",
    "clean_line",
    "emphasis_spans",
    "format_period",
    "format_time",
    "group_by_topic",
    "lines_of",
    "md_escape",
    "render_digest",
    "render_instant",
    "render_operator",
    "safe_url",
    "trim",
]

SUBJECT_MAX = 200  # characters; long subjects are cut by mail clients anyway
SNIPPET_MAX = 500  # the matcher's snippet is short; this only bounds a hostile one
DIGEST_SNIPPET_MAX = 240  # a digest lists many stories: keep each one glanceable


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
class OperatorView:
    """What an operator alert says about one outlet's health."""

    outlet: str
    state: str  # healthy | failing | silent
    previous: str  # the state before
    reason: str  # why, for failing and silent
    command: str  # how to look into it


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    html: str
    markdown: str  # CommonMark; send with body_format=MARKDOWN, apprise makes Slack mrkdwn of it
    # Set by the deliverer for each URL (see balkanwatch.delivery.message_id); empty for a test.
    message_id: str = ""
    alert_id: int | None = None


@dataclass(frozen=True)
class Link:
    """A link as templates show it: `url` is the address as text (one clean line), `href` the
    address a link may point to, or None when it is not a web URL (no link then)."""

    label: str
    url: str
    href: str | None


@dataclass(frozen=True)
class StoryLines:
    """A story as the templates see it."""

    title: str
    link: Link  # the story itself, labelled with its title
    url: str
    outlet: str
    when: str  # `1 Dec 2026 08:15 CET`, or `time not given`
    topic: str
    terms: list[str]
    snippet: list[Piece]  # empty when there is none
    also: list[Link]  # other outlets carrying it, labelled with the outlet
    outlets: str  # all its outlets, comma-separated


def link(url: str, label: str) -> Link:
    return Link(label=label, url=clean_line(url), href=safe_url(url))


def lines_of(story: StoryView, tz: tzinfo, snippet_max: int = SNIPPET_MAX) -> StoryLines:
    title = clean_line(story.title) or "(untitled)"
    outlet = clean_line(story.outlet)
    terms = [clean_line(t) for t in story.terms if clean_line(t)]
    also = [link(url, clean_line(name) or clean_line(url)) for name, url in story.also]
    return StoryLines(
        title=title,
        link=link(story.url, title),
        url=clean_line(story.url),
        outlet=outlet,
        when=format_time(story.published, tz) if story.published else "time not given",
        topic=clean_line(story.topic_title),
        terms=terms,
        snippet=pieces(trim(clean_line(story.snippet), snippet_max), terms),
        also=also,
        outlets=", ".join(n for n in [outlet, *(a.label for a in also)] if n),
    )


def _subject(templates: Templates, name: str, **context: object) -> str:
    """The rendered subject on one line and within SUBJECT_MAX, whatever the template did."""
    return trim(clean_line(templates.render(name, max_length=SUBJECT_MAX, **context)), SUBJECT_MAX)


def _message(templates: Templates, kind: str, **context: object) -> Message:
    return Message(
        subject=_subject(templates, f"{kind}.subject.txt", **context),
        text=templates.render(f"{kind}.txt", **context),
        html=templates.render(f"{kind}.html", **context),
        markdown=templates.render(f"{kind}.md", **context),
    )


# -- instant alerts --------------------------------------------------------------------------


def render_instant(story: StoryView, tz: tzinfo, templates: Templates | None = None) -> Message:
    """One alert for one story, as it arrives."""
    lines = lines_of(story, tz)
    return _message(templates or templates_for(), "instant", story=lines, topic=lines.topic)


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
    templates: Templates | None = None,
) -> Message:
    """One summary of a period's stories for one subscriber."""
    groups = [
        (topic, [lines_of(s, tz, DIGEST_SNIPPET_MAX) for s in group])
        for topic, group in group_by_topic(stories)
    ]
    count = len({s.url.strip() for s in stories})
    return _message(
        templates or templates_for(),
        "digest",
        groups=groups,
        count=count,
        noun="story" if count == 1 else "stories",
        subscriber=clean_line(subscriber),
        period=format_period(period_start, period_end, tz, zone=False),
        period_with_zone=format_period(period_start, period_end, tz),
    )


# -- operator alerts -------------------------------------------------------------------------


def render_operator(view: OperatorView, templates: Templates | None = None) -> Message:
    """An outlet turned unhealthy, or recovered. The reason is an error message, which may quote
    a URL: secrets are masked."""
    clean = OperatorView(
        outlet=clean_line(view.outlet),
        state=clean_line(view.state),
        previous=clean_line(view.previous),
        reason=clean_line(mask_secrets(view.reason)),
        command=clean_line(view.command),
    )
    return _message(templates or templates_for(), "operator", outlet=clean)


# -- breaking stories ------------------------------------------------------------------------


@dataclass(frozen=True)
class OutletLine:
    """One outlet that carried a breaking story: its first copy, and how many it ran."""

    outlet: str  # display title
    time: datetime  # tz-aware
    url: str
    copies: int = 1


@dataclass(frozen=True)
class BreakingView:
    """What a breaking alert shows: the story, its outlets earliest first, and the trigger."""

    title: str
    topic_titles: Sequence[str]
    outlets: Sequence[OutletLine]
    rule: str  # the subscriber's rule in words: "4 outlets within 2h"
    threshold: int  # the rule's number of outlets
    window_start: datetime  # the first copy of the window in which the story tipped
    reached_at: datetime  # when the threshold-th outlet carried it


@dataclass(frozen=True)
class BreakingOutlet:
    """An outlet line as the templates see it."""

    when: str
    outlet: str
    link: Link  # the copy, labelled with the outlet
    url: str
    more: str  # " (+2 more copies)" or ""


def render_breaking(view: BreakingView, tz: tzinfo, templates: Templates | None = None) -> Message:
    """One alert when a story spreads: the subject names the story and how many outlets carry
    it, the body lists each outlet with its time and link (wire copies at one outlet counted,
    not listed), earliest first."""
    title = clean_line(view.title) or "(untitled)"
    topic = clean_line(", ".join(view.topic_titles))
    count = len(view.outlets)
    noun = "outlet" if count == 1 else "outlets"
    minutes = max(0, round((view.reached_at - view.window_start).total_seconds() / 60))
    summary = (
        f"{count} {noun} carry this story; {view.threshold} of them within {minutes} min"
        f" (your rule: {clean_line(view.rule)})."
    )
    outlets = [
        BreakingOutlet(
            when=format_time(o.time, tz),
            outlet=clean_line(o.outlet),
            link=link(o.url, clean_line(o.outlet) or clean_line(o.url)),
            url=clean_line(o.url),
            more=f" (+{o.copies - 1} more {'copy' if o.copies == 2 else 'copies'})"
            if o.copies > 1
            else "",
        )
        for o in view.outlets
    ]
    return _message(
        templates or templates_for(),
        "breaking",
        title=title,
        topic=topic,
        count=count,
        noun=noun,
        summary=summary,
        outlets=outlets,
    )
