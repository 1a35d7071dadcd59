"""Alert delivery: the outbox loop that sends pending rows with apprise, with retries and backoff.

Rows are written by `pipelines.ingest` in the same transaction as their article. Delivery sends
each pending row to every apprise URL of its subscriber, one URL at a time, and records after each
successful URL that it is done (`delivered` holds digests of the URLs, never the URLs: they carry
secrets). So a retry after a failure resends only to the URLs that failed, and the window in which
a crash can cause a repeat is the time between one service accepting a message and the next
SQLite commit: a few milliseconds per URL.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import apprise

from balkanwatch.config import Config, Subscriber
from pipelines.digest import last_due_period, parse_schedule
from pipelines.render import Message, StoryView, mask_secrets, render_digest, render_instant
from pipelines.store import Store, iso

log = logging.getLogger(__name__)

BACKOFF_START = 60.0  # seconds before the first retry
BACKOFF_MAX = 3600.0

Sender = Callable[[str, Message], Awaitable[str | None]]


def backoff(attempts: int) -> float:
    """Delay before the next try after `attempts` failed ones: 1 min doubling to 1 h."""
    return min(BACKOFF_MAX, BACKOFF_START * 2 ** max(0, attempts - 1))


def url_key(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def body_for(url: str, message: Message) -> tuple[str, str]:
    """The body and apprise format each kind of service reads best."""
    schema = url.split("://", 1)[0].lower()
    if schema in ("mailto", "mailtos"):
        return message.html, apprise.NotifyFormat.HTML
    if schema == "slack":
        return message.markdown, apprise.NotifyFormat.MARKDOWN
    return message.text, apprise.NotifyFormat.TEXT


async def apprise_send(url: str, message: Message) -> str | None:
    """Send one message to one apprise URL; None on success, else a masked reason."""
    ap = apprise.Apprise()
    if not ap.add(url):
        return "not a valid apprise URL"
    body, fmt = body_for(url, message)
    with apprise.LogCapture(level=logging.WARNING) as captured:
        result = await ap.async_notify(body=body, title=message.subject, body_format=fmt)
    if result:
        return None
    detail = " ".join(captured.getvalue().split())[-500:]  # type: ignore[union-attr]
    return mask_secrets(detail or "delivery failed")


@dataclass
class DeliveryReport:
    attempted: int = 0
    sent: int = 0
    failed: int = 0

    def __str__(self) -> str:
        return f"{self.sent} sent, {self.failed} failed of {self.attempted}"


class Deliverer:
    """Sends due alerts. The clock and the sender are parameters so tests need no sleeping."""

    def __init__(
        self,
        store: Store,
        config: Config,
        clock: Callable[[], float] = time.time,
        send: Sender = apprise_send,
    ) -> None:
        self.store, self.config, self.clock, self.send = store, config, clock, send

    async def deliver_due(self) -> DeliveryReport:
        report = DeliveryReport()
        for row in self.store.due_alerts(iso(self.clock())):
            if not self.store.claim(row["id"], self.clock()):
                continue  # another deliverer has it
            row = self.store.one("SELECT * FROM alerts WHERE id = ?", (row["id"],)) or row
            report.attempted += 1
            try:
                ok = await self.deliver(row)
            finally:
                self.store.release(row["id"])
            report.sent += ok
            report.failed += not ok
        return report

    async def deliver(self, row: dict[str, Any]) -> bool:
        try:
            sub = self.config.subscriber(row["subscriber"])
        except KeyError:
            self.store.mark_attempt_failed(row["id"], "subscriber no longer configured", None, True)
            return False
        message = self.compose(row)
        if message is None:
            self.store.mark_attempt_failed(row["id"], "article no longer stored", None, True)
            return False
        done = set(json.loads(row.get("delivered") or "[]"))
        errors = []
        for url in sub.urls:
            key = url_key(url)
            if key in done:
                continue
            error = await self.send(url, message)
            if error is None:
                done.add(key)
                self.store.db["alerts"].update(row["id"], {"delivered": json.dumps(sorted(done))})
            else:
                errors.append(f"{mask_secrets(url)}: {error}")
        if not errors:
            self.store.mark_sent(row["id"], iso(self.clock()))
            log.info("Alert %s sent to %s", row["id"], sub.name)
            return True
        retry_at = iso(self.clock() + backoff(row["attempts"] + 1))
        self.store.mark_attempt_failed(row["id"], "; ".join(errors), retry_at)
        log.warning("Alert %s to %s failed, retry at %s: %s", row["id"], sub.name, retry_at,
                    "; ".join(errors))
        return False

    # -- composing --------------------------------------------------------------------------

    def compose(self, row: dict[str, Any]) -> Message | None:
        tz = self.config.settings.tz
        if row["kind"] == "instant":
            view = self.story_view(row["article_id"], row["topic"])
            return render_instant(view, tz) if view else None
        if row["kind"] == "digest":
            payload = json.loads(row["payload"])
            views = [
                v for item in payload["items"]
                if (v := self.story_view(item["article_id"], item["topic"]))
            ]
            start = datetime.fromisoformat(payload["start"])
            end = datetime.fromisoformat(payload["end"])
            return render_digest(views, start, end, tz, row["subscriber"]) if views else None
        if row["kind"] == "operator":
            payload = json.loads(row["payload"])
            return Message(payload["subject"], payload["text"], payload["html"],
                           payload["markdown"])
        return None

    def story_view(self, article_id: int, topic_name: str) -> StoryView | None:
        art = self.store.article(article_id)
        if art is None:
            return None
        match = self.store.one(
            "SELECT terms, snippet FROM matches WHERE article_id = ? AND topic = ?",
            (article_id, topic_name),
        )
        others = self.store.rows(
            "SELECT outlet, url FROM articles WHERE story_id = ? AND id != ? ORDER BY id",
            (art["story_id"], article_id),
        )
        topic_title = next(
            (t.title for t in self.config.topics if t.name == topic_name), topic_name
        )
        return StoryView(
            title=art["title"] or art["url"],
            url=art["url"],
            outlet=self.outlet_title(art["outlet"]),
            published=_parse_time(art["published"]),
            topic_title=topic_title,
            terms=json.loads(match["terms"]) if match else [],
            snippet=(match or {}).get("snippet") or "",
            also=[(self.outlet_title(o["outlet"]), o["url"]) for o in others],
        )

    def outlet_title(self, name: str) -> str:
        try:
            return self.config.outlet(name).title or name
        except KeyError:
            return name

    # -- digests ----------------------------------------------------------------------------

    def close_digests(self) -> int:
        """Gather each digest subscriber's undelivered stories of the last ended period into one
        digest row; the items point to it, so a story is in exactly one digest."""
        made = 0
        now = datetime.fromtimestamp(self.clock(), UTC)
        for sub in self.config.subscribers:
            if sub.digest:
                made += self._close_digest(sub, now)
        return made

    def _close_digest(self, sub: Subscriber, now: datetime) -> int:
        schedule = parse_schedule(sub.digest)
        assert schedule is not None
        start, end = last_due_period(schedule, now, self.config.settings.tz)
        end_iso = end.astimezone(UTC).isoformat(timespec="seconds")
        with self.store.transaction():
            items = self.store.rows(
                "SELECT id, article_id, topic FROM alerts WHERE subscriber = ? AND "
                "kind = 'digest-item' AND digest_id IS NULL AND status = 'pending' "
                "AND created_at < ? ORDER BY id",
                (sub.name, end_iso),
            )
            if not items:
                return 0  # an empty period sends nothing
            payload = {
                "start": start.isoformat(),
                "end": end.isoformat(),
                "items": [{"article_id": i["article_id"], "topic": i["topic"]} for i in items],
            }
            added = self.store.queue_alert(
                {
                    "subscriber": sub.name,
                    "kind": "digest",
                    "dedup_key": f"digest:{sub.name}:{end_iso}",
                    "payload": json.dumps(payload),
                }
            )
            if not added:
                return 0
            digest_id = self.store.one(
                "SELECT id FROM alerts WHERE dedup_key = ?", (f"digest:{sub.name}:{end_iso}",)
            )["id"]  # type: ignore[index]
            marks = ",".join("?" * len(items))
            self.store.db.execute(
                f"UPDATE alerts SET digest_id = ? WHERE id IN ({marks})",
                [digest_id, *[i["id"] for i in items]],
            )
        return 1


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def sample_message(config: Config) -> Message:
    """What `balkanwatch test-alert` sends."""
    view = StoryView(
        title="balkanwatch test alert: Kosovo, NATO and KFOR",
        url="https://example.org/balkanwatch-test",
        outlet="balkanwatch",
        published=datetime.now(UTC) - timedelta(minutes=5),
        topic_title="Test",
        terms=["Kosovo", "NATO"],
        snippet="This is a test alert from balkanwatch: Kosovo and NATO would be emphasised here.",
    )
    return render_instant(view, config.settings.tz)
