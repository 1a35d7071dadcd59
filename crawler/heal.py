"""The outlets spider's per-outlet URL filter and self-healing, kept apart from the spider.

The spider calls in at a few points (see the `heal` hooks in crawler/spiders/outlets.py):
every listing's links pass `admit` (the outlet's one URL filter, which also learns the outlet's
templates from its feed and sitemap items and counts what each configured source brought), the
homepage scan asks `homepage_links`, `skip` keeps dead sources unpolled, `source_failed` and
`start` begin the fallback, and `finish` decides, stores and alerts as each outlet's crawl
ends normally (a `before_finish` hook of crawler/context.py; before the item pipelines close,
so the alert goes out with this crawl's deliveries).

The decisions are pure (`balkanwatch.analysis.outletfilter`, `balkanwatch.analysis.selfheal`);
this module keeps the run's observations and talks to the store.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import asdict, replace
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

import scrapy
from scrapy.http import Response, TextResponse

from balkanwatch.analysis.charset import decode_html
from balkanwatch.analysis.discovery import Link, autodiscover_feeds, robots_sitemaps
from balkanwatch.analysis.outletfilter import OutletFilter, merge_examples, teaching_urls
from balkanwatch.analysis.selfheal import (
    SourceHealth,
    after_run,
    describe_replacement,
    is_dead_status,
    needs_probe,
)
from balkanwatch.analysis.urls import canonical_url, is_own_domain
from balkanwatch.core.config import Config, Outlet
from balkanwatch.core.times import utcnow
from balkanwatch.delivery.render import OperatorView, render_operator
from balkanwatch.delivery.templating import templates_for
from balkanwatch.storage.store import Store

log = logging.getLogger(__name__)

HOMEPAGE = "homepage"  # the `source` of links found by the fallback's homepage scan


class Healer:
    """One crawl's URL filters and source health, for the outlets it crawls."""

    def __init__(self, store: Store, config: Config, outlets: list[Outlet], since: datetime):
        self.store, self.config, self.since = store, config, since
        self.outlets = {o.name: o for o in outlets}
        self.stored_examples: dict[str, list[str]] = {}
        self.filters: dict[str, OutletFilter] = {}
        self.health: dict[tuple[str, str], SourceHealth] = {}
        for o in outlets:
            saved = store.outlet_templates(o.name)
            self.stored_examples[o.name] = saved["examples"] if saved else []
            self.filters[o.name] = OutletFilter.build(
                o.article_pattern, self.stored_examples[o.name]
            )
            rows = {r["url"]: r for r in store.source_health(o.name)}
            for kind, urls in (("feed", o.feeds), ("sitemap", o.sitemaps)):
                for url in urls:
                    row = rows.get(url)
                    self.health[(o.name, url)] = (
                        SourceHealth(**{k: row[k] for k in _HEALTH_FIELDS})
                        if row
                        else SourceHealth(o.name, url, kind, since=utcnow())
                    )
        # This run's observations.
        self.new_examples: dict[str, list[str]] = defaultdict(list)
        self.new_by_source: dict[tuple[str, str], int] = defaultdict(int)
        self.unseen_listed: dict[str, set[str]] = defaultdict(set)  # by live configured sources
        self.homepage_unseen: dict[str, set[str]] = {}
        self.status: dict[tuple[str, str], int | None] = {}
        self.failed: set[tuple[str, str]] = set()
        self.fallback: dict[str, dict[str, list[str]]] = {}  # outlet -> feeds, sitemaps used
        self.rejected: dict[str, int] = defaultdict(int)
        self.run_unseen: set[str] = set()
        self.finished: set[str] = set()

    # -- the outlet's URL filter --------------------------------------------------------------

    def admit(self, outlet: Outlet, links: list[Link], source: str) -> list[Link]:
        """The links of one listing that may be articles; learns from feed and sitemap items
        and counts the unseen ones each source brought."""
        name = outlet.name
        if source != HOMEPAGE and source != outlet.homepage:
            urls = [canonical_url(lk.url, outlet.homepage) for lk in links]
            if teaching_urls(urls):
                self.new_examples[name] = [*urls, *self.new_examples[name]]
            examples = merge_examples(self.new_examples[name], self.stored_examples[name])
            url_filter = OutletFilter.build(outlet.article_pattern, examples, listed=urls)
            self.filters[name] = url_filter
            kept = []
            for link, url in zip(links, urls, strict=True):
                ok, why = url_filter.admits(url)
                if ok:
                    kept.append(link)
                else:
                    self.rejected[name] += 1
                    log.debug("Outlet %s: %s is no article (%s)", name, url, why)
            links = kept
        recent = {
            canonical_url(lk.url, outlet.homepage)
            for lk in links
            if lk.published is None or lk.published >= self.since
        }
        # Unseen before this crawl: an article another source led to earlier in this crawl
        # may be stored already, and still counts as new for every source listing it.
        unseen = (recent - set(self.store.seen_urls(recent))) | (recent & self.run_unseen)
        self.run_unseen |= unseen
        self.new_by_source[(name, source)] += len(unseen)
        if source == HOMEPAGE:
            self.homepage_unseen.setdefault(name, set()).update(unseen)
        elif source not in self._fallback_sources(name):
            self.unseen_listed[name].update(unseen)
        return links

    def homepage_links(self, outlet: Outlet, html: str, base_url: str) -> list[Link]:
        """A homepage's article links, judged by the outlet's filter and learned examples."""
        verdicts = self.filters[outlet.name].homepage(html, base_url, outlet.own_domains())
        return [Link(url=v.url, title=v.title) for v in verdicts if v.article]

    # -- dead sources and the fallback --------------------------------------------------------

    def skip(self, outlet: Outlet, url: str) -> bool:
        """A configured source found dead is no longer polled."""
        health = self.health.get((outlet.name, url))
        return health is not None and health.dead

    def start(self, spider: Any, outlet: Outlet) -> Iterator[scrapy.Request]:
        """The fallback, when a configured source is dead or has been silent long enough that
        the homepage must tell a frozen feed from a quiet outlet."""
        threshold = self.config.settings.empty_threshold
        sources = [h for (name, _), h in self.health.items() if name == outlet.name]
        if any(h.dead for h in sources):
            yield from self._fallback(spider, outlet, robots=True)
        elif any(needs_probe(h, threshold) for h in sources):
            # a probe: the homepage alone (and the feeds it announces), robots.txt once dead
            yield from self._fallback(spider, outlet, robots=False)

    def source_failed(
        self, spider: Any, outlet: Outlet, url: str, status: int | None
    ) -> Iterator[scrapy.Request]:
        key = (outlet.name, url)
        self.failed.add(key)
        self.status[key] = status
        if key in self.health and is_dead_status(status):
            log.warning("Outlet %s: %s answers HTTP %s: falling back", outlet.name, url, status)
            yield from self._fallback(spider, outlet, robots=True)

    def _fallback_sources(self, name: str) -> set[str]:
        used = self.fallback.get(name)
        return set(used["feeds"]) | set(used["sitemaps"]) if used else set()

    def _fallback(self, spider: Any, outlet: Outlet, robots: bool) -> Iterator[scrapy.Request]:
        if outlet.name not in self.fallback:
            self.fallback[outlet.name] = {"feeds": [], "sitemaps": []}
            yield self._request(spider, outlet, outlet.homepage, spider.heal_homepage)
        robots_url = urljoin(outlet.homepage, "/robots.txt")
        if robots and (outlet.name, robots_url) not in spider.sources_requested:
            yield self._request(spider, outlet, robots_url, spider.heal_robots)

    @staticmethod
    def _request(spider: Any, outlet: Outlet, url: str, callback: Any) -> scrapy.Request:
        # Unconditional: a 304 would hide the announced feeds and the links scanned.
        spider.sources_requested.add((outlet.name, url))
        spider.ctx.hold(outlet.name)  # released by the tracked callback or the errback
        robots = url.endswith("/robots.txt")
        return scrapy.Request(
            url,
            callback=callback,
            errback=spider.source_failed,
            dont_filter=True,
            meta={
                "outlet": outlet.name,
                "source": url,
                "own_domains": outlet.own_domains(),
                "optional": robots,
                "handle_httpstatus_list": [404, 410] if robots else [],
            },
            cb_kwargs={"outlet": outlet},
        )

    def parse_homepage(
        self, spider: Any, response: Response, outlet: Outlet, charset: str | None
    ) -> Iterator[scrapy.Request]:
        if not spider._source_response(response, outlet):
            return
        source = response.meta["source"]
        spider.ctx.sources[source].pointer = True  # read in full every time: never revalidated
        if not isinstance(response, TextResponse):
            spider._source_error(outlet, source, "homepage is not HTML")
            return
        spider.ctx.runs[outlet.name].sources_ok += 1
        html = decode_html(response.body, charset, outlet.language or None).text
        used = self.fallback[outlet.name]
        for url in autodiscover_feeds(html, response.url)[:3]:
            if is_own_domain(url, outlet.own_domains()) and not self._configured(outlet, url):
                used["feeds"].append(url)
                yield from spider.source_request(outlet, url, spider.parse_feed)
        links = self.homepage_links(outlet, html, response.url)
        self.homepage_unseen.setdefault(outlet.name, set())
        yield from spider.article_requests(outlet, links, HOMEPAGE)

    def parse_robots(self, spider: Any, response: Response, outlet: Outlet) -> Iterator[Any]:
        spider.ctx.runs[outlet.name].requests += 1 + int(response.meta.get("redirect_times", 0))
        if response.status != 200 or not isinstance(response, TextResponse):
            return
        used = self.fallback[outlet.name]
        for url in robots_sitemaps(response.text, response.url):
            if is_own_domain(url, outlet.own_domains()) and not self._configured(outlet, url):
                used["sitemaps"].append(url)
                yield from spider.source_request(outlet, url, spider.parse_sitemap)

    def _configured(self, outlet: Outlet, url: str) -> bool:
        return (outlet.name, url) in self.health

    # -- the end of the crawl -----------------------------------------------------------------

    def finish(self, name: str) -> None:
        """Store what was learned from the outlet and its configured sources' health; one
        operator alert per source found dead. Runs once per outlet, as its crawl ends."""
        if name in self.finished:
            return
        self.finished.add(name)
        now, threshold = utcnow(), self.config.settings.empty_threshold
        with self.store.transaction():
            if new := self.new_examples.get(name):
                examples = merge_examples(new, self.stored_examples[name])
                url_filter = self.filters[name].learned
                self.store.save_outlet_templates(name, examples, url_filter.to_json())
            for key, health in list(self.health.items()):
                if key[0] != name:
                    continue
                url = key[1]
                homepage_new = self.homepage_unseen.get(name, set()) - self.unseen_listed[name]
                after = after_run(
                    health,
                    now=now,
                    empty_threshold=threshold,
                    status=self.status.get(key),
                    failed=key in self.failed,
                    new_items=self._brought(name, url, health.kind),
                    homepage_new=len(homepage_new),
                )
                if after.dead and not health.dead:
                    used = self.fallback.get(name, {"feeds": [], "sitemaps": []})
                    after = replace(
                        after, replaced_by=describe_replacement(used["feeds"], used["sitemaps"])
                    )
                    self._alert(after)
                if after != health:
                    self.store.save_source_health(asdict(after))
                    self.health[key] = after

    def _brought(self, name: str, url: str, kind: str) -> int:
        """Unseen items a configured source listed; a sitemap index's children count for every
        configured sitemap (their listings do not say which index named them)."""
        own = self.new_by_source.get((name, url), 0)
        if kind != "sitemap":
            return own
        outlet = self.outlets[name]
        others = {*outlet.feeds, *outlet.sitemaps, *self._fallback_sources(name), HOMEPAGE}
        return own + sum(
            n for (o, src), n in self.new_by_source.items() if o == name and src not in others
        )

    def _alert(self, health: SourceHealth) -> None:
        log.warning(
            "Outlet %s: %s %s is dead (%s); now crawled through %s",
            health.outlet,
            health.kind,
            health.url,
            health.reason,
            health.replaced_by,
        )
        settings = self.config.settings
        view = OperatorView(
            outlet=health.outlet,
            state="rerouted",
            previous="healthy",
            reason=(
                f"{health.kind} {health.url} is dead ({health.reason}); now crawled through "
                f"{health.replaced_by}. Update outlets.yaml"
            ),
            command=f"balkanwatch discover --url {self.outlets[health.outlet].homepage} --yaml",
        )
        message = asdict(render_operator(view, templates_for(settings.templates_dir)))
        for operator in settings.operators:
            self.store.queue_alert(
                {
                    "subscriber": operator,
                    "kind": "operator",
                    # one per outlet and dead URL, however often the crawl runs
                    "dedup_key": f"source-dead:{operator}:{health.outlet}:{health.url}",
                    "payload": json.dumps(message, ensure_ascii=False),
                }
            )


_HEALTH_FIELDS = ("outlet", "url", "kind", "state", "silent_runs", "reason", "replaced_by", "since")
