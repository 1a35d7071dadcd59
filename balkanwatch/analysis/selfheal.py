"""Self-healing: when is a configured feed or sitemap dead, and what does the operator read.

A configured source is dead when it answers 404 or 410 (the outlet removed it, often on a
redesign), or when it still answers but has listed nothing new for ``empty_threshold`` crawls
while the outlet's homepage shows article links nobody has seen (it froze: the outlet moved its
feed and left the old file behind). A source that is merely quiet, on an outlet whose homepage
shows nothing new either, is alive. Other failures (5xx, timeouts) are the health monitor's:
they come and go and say nothing about where the articles went.

A dead source is no longer polled; the crawler reads the homepage instead (its announced feeds,
the sitemaps its robots.txt names, and its article links), and the operator gets one alert
naming the dead URL and what replaced it. Pure functions; the crawler stores the state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

__all__ = [
    "DEAD_STATUSES",
    "SourceHealth",
    "after_run",
    "describe_replacement",
    "is_dead_status",
    "needs_probe",
]

DEAD_STATUSES = frozenset({404, 410})


@dataclass(frozen=True)
class SourceHealth:
    """A configured feed or sitemap, as the crawler last found it."""

    outlet: str
    url: str
    kind: str  # feed | sitemap
    state: str = "ok"  # ok | dead
    silent_runs: int = 0  # consecutive crawls that it answered without a new item
    reason: str | None = None
    replaced_by: str | None = None
    since: str = ""

    @property
    def dead(self) -> bool:
        return self.state == "dead"


def is_dead_status(status: int | None) -> bool:
    return status in DEAD_STATUSES


def needs_probe(health: SourceHealth, empty_threshold: int) -> bool:
    """Whether this crawl must also scan the homepage to tell a frozen source from a quiet
    outlet: the source has been silent long enough that one more silent crawl would count."""
    return not health.dead and health.silent_runs + 1 >= empty_threshold


def after_run(
    health: SourceHealth,
    *,
    now: str,
    empty_threshold: int,
    status: int | None,
    failed: bool,
    new_items: int,
    homepage_new: int,
) -> SourceHealth:
    """The source's health after one crawl.

    ``status`` is the HTTP status it answered (None if none), ``failed`` whether reading it
    failed, ``new_items`` how many article URLs it listed that were not stored before this
    crawl, ``homepage_new`` how many unseen article links the homepage showed that no live
    configured source listed (0 when the homepage was not scanned).
    """
    if health.dead:
        return health
    if is_dead_status(status):
        return replace(health, state="dead", reason=f"HTTP {status}", since=now)
    if failed:  # transient or not, the health monitor reports it; silence does not grow
        return health
    if new_items:
        return replace(health, silent_runs=0)
    silent = health.silent_runs + 1
    if silent >= empty_threshold and homepage_new:
        why = (
            f"answered but listed nothing new for {silent} crawls while the homepage showed "
            f"{homepage_new} new article link(s)"
        )
        return replace(health, state="dead", silent_runs=silent, reason=why, since=now)
    return replace(health, silent_runs=silent)


def describe_replacement(feeds: Sequence[str], sitemaps: Sequence[str]) -> str:
    """What the crawler reads instead of a dead source, in the operator's words."""
    parts = [f"feed {u} (announced on the homepage)" for u in feeds]
    parts += [f"sitemap {u} (named in robots.txt)" for u in sitemaps]
    parts.append("the homepage's article links")
    return "; ".join(parts)
