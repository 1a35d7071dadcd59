"""Ingest: one extracted article -> its story, its topic matches and its alerts, in one transaction.

This is the heart of "one story, one alert": the article row, its matches and the pending alert rows
commit together, so a crash either loses the whole article (and it is fetched again next time,
because the seen-set is the articles table itself) or keeps all of it with its alerts in the outbox.
Alerts are keyed by (subscriber, story, topic), so a copy of a story at another URL or outlet, or an
updated article, can never queue a second alert for the same topic.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from balkanwatch.core.config import Config
from balkanwatch.core.document import Document
from balkanwatch.core.times import now, parse_time, timestamp, to_iso
from balkanwatch.storage.store import Store
from pipelines.stages import STAGES

if TYPE_CHECKING:
    from balkanwatch.analysis.dedup import StoryIndex
    from balkanwatch.analysis.topics import TopicMatcher

log = logging.getLogger(__name__)


@dataclass
class IngestResult:
    article_id: int
    story_id: int
    status: str  # new | duplicate | updated | unchanged
    topics: list[str]  # topics matched
    alerts_queued: int


def alert_rows(config: Config, story_id: int, article_id: int, topics: list[str]) -> list[dict]:
    """The outbox rows an article's new topic matches call for, one per subscriber and topic."""
    rows = []
    for sub in config.subscribers:
        if sub.breaking and sub.breaking.only:
            continue  # breaking alerts only: see balkanwatch.delivery.breaking
        for topic in topics:
            if not sub.wants(topic):
                continue
            rows.append(
                {
                    "subscriber": sub.name,
                    "kind": "digest-item" if sub.digest else "instant",
                    "story_id": story_id,
                    "topic": topic,
                    "article_id": article_id,
                    "dedup_key": f"story:{sub.name}:{story_id}:{topic}",
                }
            )
    return rows


class Ingester:
    """Holds what ingesting needs across articles: the store, the matcher and the story index."""

    def __init__(
        self, store: Store, config: Config, matcher: TopicMatcher, index: StoryIndex
    ) -> None:
        self.store, self.config, self.matcher, self.index = store, config, matcher, index
        self._breaking = any(s.breaking for s in config.subscribers)

    def ingest(self, doc: Document) -> IngestResult:
        from balkanwatch.analysis.dedup import fingerprints

        store = self.store
        # Fingerprints of the seed-form text: dedup skips the title line itself, so a copy with
        # a new headline is still the same story.
        with STAGES("fingerprint"):
            digest, sig = fingerprints(doc.text)
        with store.transaction():
            with STAGES("store"):
                existing = store.article_id_for(doc.url)
                if existing is None:
                    for alias in doc.aliases:
                        existing = store.article_id_for(alias)
                        if existing is not None:
                            break
            if existing is not None:
                result = self._update(existing, doc, digest, sig)
            else:
                result = self._insert(doc, digest, sig)
            with STAGES("store"):
                store.add_aliases(result.article_id, [doc.url, *doc.aliases])
            # A story's first copy is one outlet: only a later copy or an edit can tip it.
            if result.status in ("duplicate", "updated") and self._breaking:
                result.alerts_queued += self._queue_breaking(result.story_id, doc.fetched_at)
        if result.status in ("new", "duplicate", "updated"):
            # The index follows the database only once the article is written, so a failed write
            # leaves no ghost entry (inside a batch, only a failed final commit could).
            with STAGES("dedup"):
                key = str(result.article_id)
                self.index.remove(key)
                if sig:  # too short a body has no signature: exact copies only
                    self.index.add(key, str(result.story_id), sig, _ts(doc.fetched_at))
        if result.topics and not self.config.subscribers:
            log.info("Match without subscribers: %s %s -> %s", doc.outlet, doc.url, result.topics)
        return result

    def _find_story(self, digest: str, sig: bytes) -> int | None:
        story = self.store.story_by_hash(digest)
        if story is None and sig:
            found = self.index.find(sig)
            story = int(found) if found is not None else None
        return story

    def _insert(self, doc: Document, digest: str, sig: bytes) -> IngestResult:
        with STAGES("dedup"):
            story = self._find_story(digest, sig)
        row = {
            "url": doc.url,
            "outlet": doc.outlet,
            "title": doc.title,
            "text": doc.text,
            "published": doc.published,
            "fetched_at": doc.fetched_at,
            "language": doc.language,
            "author": doc.author,
            "sitename": doc.sitename,
            "page_title": doc.page_title,
            "script": doc.script,
            "furniture": "\n".join(doc.furniture) or None,
            "story_id": story,
            "content_hash": digest,
            "signature": sig or None,
        }
        with STAGES("store"):
            article_id = self.store.insert_article(row)
        with STAGES("search index"):
            self.store.index_search(article_id, doc.title or "", doc.body)
        story_id = story or article_id
        with STAGES("match"):
            matches = self.matcher.match(doc.title or "", doc.body)
        topics = [m.name for m in matches]
        with STAGES("store"):
            self.store.replace_matches(article_id, matches)
        with STAGES("alerts"):
            queued = self._queue(story_id, article_id, topics)
        return IngestResult(article_id, story_id, "duplicate" if story else "new", topics, queued)

    def _update(self, article_id: int, doc: Document, digest: str, sig: bytes) -> IngestResult:
        old = self.store.article(article_id)
        assert old is not None
        story_id = int(old["story_id"])
        if old["content_hash"] == digest and old["title"] == doc.title:
            return IngestResult(article_id, story_id, "unchanged", [], 0)
        self.store.update_article(
            article_id,
            {
                "title": doc.title,
                "text": doc.text,
                "published": doc.published or old["published"],
                "language": doc.language or old["language"],
                "script": doc.script,
                "page_title": doc.page_title or old["page_title"],
                "furniture": "\n".join(doc.furniture) or None,
                "content_hash": digest,
                "signature": sig or None,
                "updated_at": doc.fetched_at,
            },
        )
        self.store.index_search(article_id, doc.title or "", doc.body)
        before = self.store.matched_topics(article_id)
        matches = self.matcher.match(doc.title or "", doc.body)
        self.store.replace_matches(article_id, matches)
        # An edit alerts only for topics the article did not match before.
        new_topics = [m.name for m in matches if m.name not in before]
        queued = self._queue(story_id, article_id, new_topics)
        return IngestResult(article_id, story_id, "updated", [m.name for m in matches], queued)

    def _queue_breaking(self, story_id: int, fetched_at: str) -> int:
        """Breaking alerts the story calls for now that this copy is stored; queued in the
        article's transaction, once per subscriber and story (the outbox's dedup_key)."""
        from balkanwatch.delivery.breaking import breaking_rows

        self.store.lock_story(story_id)
        topics = self.store.story_topics(story_id)
        if not topics:
            return 0
        timeline = self.store.story_timeline(story_id)
        rows = breaking_rows(self.config, timeline, topics, parse_time(fetched_at) or now())
        return sum(self.store.queue_alert(row) for row in rows)

    def _queue(self, story_id: int, article_id: int, topics: list[str]) -> int:
        return sum(
            self.store.queue_alert(row)
            for row in alert_rows(self.config, story_id, article_id, topics)
        )


def _ts(iso_time: str) -> float:
    return timestamp(iso_time) or 0.0


def build_index(store: Store, window_days: float) -> StoryIndex:
    """Rebuild the near-duplicate index from the stored signatures of the window, first signing
    again the articles whose signature was made with another folding (FOLD_VERSION)."""
    from datetime import timedelta

    from balkanwatch.analysis.dedup import StoryIndex, content_hash, signature

    since = to_iso(now() - timedelta(days=window_days))
    while stale := store.stale_signatures(since):
        with store.transaction():
            for row in stale:
                store.resign(row["id"], content_hash(row["text"]), signature(row["text"]) or None)
        log.info("Signed %d stored articles again for the current text folding", len(stale))
    return StoryIndex.from_rows(store.signatures_since(since), window_days=window_days)
