"""Per-outlet politeness: `crawl_delay` and `concurrency` from outlets.yaml applied to the
outlet's own hosts only.

The defaults (a 1 s delay adapted by AutoThrottle, two requests at a time per host) suit a real
news site; an outlet that asks for slower crawling, or a local mirror that can take more, gets its
own download slot settings (DOWNLOAD_SLOTS, set by the add-on in crawler/context.py), without
changing them for every other outlet.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler

from balkanwatch.core.config import Config

FIXED_HOSTS = "BALKANWATCH_FIXED_DELAY_HOSTS"


def slot_settings(config: Config) -> dict[str, dict[str, Any]]:
    """DOWNLOAD_SLOTS entries (keyed by host, Scrapy's default slot key) for outlets that set
    their own crawl_delay or concurrency."""
    slots: dict[str, dict[str, Any]] = {}
    for outlet in config.outlets:
        entry: dict[str, Any] = {}
        if outlet.crawl_delay is not None:
            entry["delay"] = outlet.crawl_delay
            entry["jitter"] = 0.5 if outlet.crawl_delay else 0.0
        if outlet.concurrency is not None:
            entry["concurrency"] = outlet.concurrency
        if entry:
            for host in outlet.own_domains():
                slots[urlsplit(f"//{host}").hostname or host] = entry
    return slots


class FixedDelayMiddleware:
    """Keeps AutoThrottle from stretching a delay an outlet has fixed in its configuration."""

    def __init__(self, hosts: list[str]) -> None:
        self.hosts = frozenset(hosts)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FixedDelayMiddleware:
        return cls(crawler.settings.getlist(FIXED_HOSTS))

    def process_request(self, request: Request) -> None:
        if self.hosts and urlsplit(request.url).hostname in self.hosts:
            request.meta["autothrottle_dont_adjust_delay"] = True
