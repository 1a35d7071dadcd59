"""`balkanwatch story ID|URL`: one story's timeline: when and where it first appeared, how many
outlets carried it and how fast it spread, and every copy (outlet, time, URL)."""

from __future__ import annotations

from datetime import timedelta, tzinfo
from typing import Any

from balkanwatch.analysis.timeline import Timeline
from balkanwatch.core.config import Config, ConfigError
from balkanwatch.storage.store import Store


def find_story(store: Store, ref: str) -> int:
    """A story by its id, or by the URL (canonical or an alias) of any of its copies."""
    if ref.isdigit():
        story = store.story_of(int(ref))  # a story's id is its first article's id
        if story == int(ref):
            return story
        raise ConfigError(f"no story {ref} (a story's id is that of its first article)")
    article = store.article_id_for(ref)
    story = store.story_of(article) if article is not None else None
    if story is None:
        raise ConfigError(f"no stored article at {ref}")
    return story


def timeline_report(timeline: Timeline, topics: list[str], cfg: Config) -> dict[str, Any]:
    """The timeline as data (what `--json` prints): times in ISO 8601 UTC, delays in seconds."""
    outlets = timeline.outlets()
    first = timeline.first

    def seconds(n: int) -> float | None:
        delay = timeline.time_to(n)
        return None if delay is None else delay.total_seconds()

    return {
        "story_id": timeline.story_id,
        "title": timeline.title,
        "topics": topics,
        "first_seen": _copy(first, cfg) if first else None,
        "outlets": len(outlets),
        "copies": len(timeline.copies),
        # seconds from the first appearance until the n-th distinct outlet carried it
        "spread": {str(n): seconds(n) for n in range(2, len(outlets) + 1)},
        "timeline": [
            {**_copy(c, cfg), "outlet_first": any(o.first is c for o in outlets)}
            for c in timeline.copies
        ],
    }


def _copy(c: Any, cfg: Config) -> dict[str, Any]:
    return {
        "outlet": c.outlet,
        "outlet_title": _title(cfg, c.outlet),
        "time": c.time.isoformat(),
        "time_from_page": c.from_page,
        "fetched_at": c.fetched_at.isoformat(),
        "url": c.url,
        "title": c.title,
    }


def _title(cfg: Config, name: str) -> str:
    try:
        return cfg.outlet(name).title or name
    except KeyError:
        return name


def format_timeline(report: dict[str, Any], tz: tzinfo) -> str:
    from datetime import datetime

    def local(value: str) -> str:
        return datetime.fromisoformat(value).astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")

    first = report["first_seen"]
    if first is None:
        return f"Story {report['story_id']}: no stored copies"
    noun = "outlet" if report["outlets"] == 1 else "outlets"
    lines = [
        f"Story {report['story_id']}: {report['title']}",
        f"Topics: {', '.join(report['topics']) or 'none'}",
        f"First seen {local(first['time'])} at {first['outlet_title']}",
        f"Carried by {report['outlets']} {noun} ({report['copies']} copies)",
    ]
    steps = [f"{n} after {_delay(s)}" for n, s in report["spread"].items() if s is not None]
    if steps:
        lines.append("Outlets reached: " + ", ".join(steps))
    lines.append("")
    width = max(len(c["outlet_title"]) for c in report["timeline"])
    for c in report["timeline"]:
        mark = "" if c["outlet_first"] else "  (another copy at this outlet)"
        when = local(c["time"]) + ("" if c["time_from_page"] else " (fetched)")
        lines.append(f"  {when:<20}  {c['outlet_title']:<{width}}  {c['url']}{mark}")
    return "\n".join(lines)


def _delay(seconds: float) -> str:
    delay = timedelta(seconds=round(seconds))
    minutes = int(delay.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"
