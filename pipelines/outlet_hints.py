"""What extraction learns about an outlet from the outlet's own stored pages (issue 18).

A page alone does not always say which part of its `<title>` is the site's name, nor which
of its lines are the template's (a byline formula, a newsletter box, a "read also" list):
the outlet's other pages do. Once per outlet per crawl, the outlet's most recent stored
pages are read and turned into hints for `extract_article`: the outlet's configured title,
the raw `<title>`s its site affix is learned from, and the lines learned as furniture.
Learning once per crawl keeps the cost at one query per outlet, off the per-page path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from balkanwatch.core.config import Outlet
from balkanwatch.storage.store import Store

RECENT_PAGES = 50  # enough for a share to mean something; a few ms to learn from


@dataclass(frozen=True)
class Hints:
    site_title: str | None = None
    known_titles: tuple[str, ...] = ()
    furniture: frozenset[str] = field(default_factory=frozenset)

    def arguments(self) -> dict[str, Any]:
        """Keyword arguments of `extract_article` (plain data: it crosses to a worker)."""
        return {
            "site_title": self.site_title,
            "known_titles": self.known_titles,
            "furniture": self.furniture,
        }


class OutletHints:
    """Hints per outlet, learned on the outlet's first article of the crawl, then reused."""

    def __init__(self, store: Store, recent: int = RECENT_PAGES) -> None:
        self.store = store
        self.recent = recent
        self._learned: dict[str, Hints] = {}

    def of(self, outlet: Outlet) -> Hints:
        if (hints := self._learned.get(outlet.name)) is None:
            hints = self._learned[outlet.name] = self._learn(outlet)
        return hints

    def _learn(self, outlet: Outlet) -> Hints:
        from balkanwatch.analysis.body import learn_furniture

        recent = self.store.outlet_recent(outlet.name, self.recent)
        return Hints(
            site_title=outlet.title or None,
            known_titles=tuple(recent.titles),
            furniture=learn_furniture(recent.bodies),
        )
