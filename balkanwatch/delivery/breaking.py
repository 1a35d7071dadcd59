"""Breaking alerts: which subscribers a spreading story calls for, and what their alert says.

Both halves are pure (config and timelines in, rows and views out); the ingest stage and the
deliverer call them with what they read from the store.

Choices:
- One breaking alert per subscriber and story, whatever its topics (`dedup_key`
  `breaking:<subscriber>:<story>`): the outbox refuses a second row, so a later copy, a restart
  or a second crawler can never send it again. Later copies show in the story's Atom entry.
- A breaking alert is sent at once, also to digest subscribers: news of a story taking off is
  worth nothing in tomorrow's summary. The story itself still goes into their digest as well.
- It comes on top of the subscriber's per-story alerts; a subscriber who wants only breaking
  alerts writes `breaking: {..., only: true}`.
- The rule is checked when an article of the story is stored, in the same transaction, against
  the article's fetch time (`analysis.timeline.breaking_spread`); the alert lists the story's
  outlets as they are when it is sent, and records the window that tipped it in its payload.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from balkanwatch.analysis.timeline import Timeline, breaking_spread
from balkanwatch.core.config import Config
from balkanwatch.delivery.render import BreakingView, OutletLine

KIND = "breaking"


def dedup_key(subscriber: str, story_id: int) -> str:
    return f"breaking:{subscriber}:{story_id}"


def breaking_rows(
    config: Config, timeline: Timeline, topics: list[str], now: datetime
) -> list[dict[str, Any]]:
    """The outbox rows this story calls for now: one per subscriber whose breaking rule it
    meets on one of the subscriber's topics."""
    rows = []
    for sub in config.subscribers:
        wanted = [t for t in topics if sub.wants(t)]
        if sub.breaking is None or not wanted:
            continue
        spread = breaking_spread(timeline, sub.breaking.outlets, sub.breaking.within, now)
        if spread is None:
            continue
        payload = {
            "topics": wanted,
            "rule": sub.breaking.describe(),
            "threshold": sub.breaking.outlets,
            "within": sub.breaking.within,
            "start": spread.start.isoformat(),
            "reached_at": spread.reached_at.isoformat(),
            "outlets": [
                {"outlet": c.outlet, "time": c.time.isoformat(), "url": c.url}
                for c in spread.outlets
            ],
        }
        rows.append(
            {
                "subscriber": sub.name,
                "kind": KIND,
                "story_id": timeline.story_id,
                "topic": wanted[0],
                "article_id": spread.outlets[0].article_id,
                "dedup_key": dedup_key(sub.name, timeline.story_id),
                "payload": json.dumps(payload, ensure_ascii=False),
            }
        )
    return rows


def breaking_view(row: dict[str, Any], timeline: Timeline, config: Config) -> BreakingView | None:
    """What the alert of an outbox row shows, from the story's timeline as it is now (the window
    found again in it, so the times shown agree with the list); None when the story's articles
    are gone."""
    if not timeline.copies:
        return None
    payload = json.loads(row["payload"] or "{}")
    titles = {t.name: t.title for t in config.topics}
    threshold = int(payload["threshold"])
    spread = breaking_spread(timeline, threshold, float(payload["within"]), now=None)
    start = spread.start if spread else datetime.fromisoformat(payload["start"])
    reached = spread.reached_at if spread else datetime.fromisoformat(payload["reached_at"])
    return BreakingView(
        title=timeline.title,
        topic_titles=[titles.get(t, t) for t in payload.get("topics", [row["topic"]])],
        outlets=[
            OutletLine(outlet_title(config, o.outlet), o.first.time, o.first.url, o.copies)
            for o in timeline.outlets()
        ],
        rule=payload.get("rule", ""),
        threshold=threshold,
        window_start=start,
        reached_at=reached,
    )


def outlet_title(config: Config, name: str) -> str:
    try:
        return config.outlet(name).title or name
    except KeyError:
        return name
