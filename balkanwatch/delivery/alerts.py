"""Alert delivery: the outbox loop that sends pending rows with apprise, with retries and backoff.

The outbox. `pipelines.ingest` writes the pending rows in the same transaction as their article,
so a stored article always has its alerts and a crash loses neither. `Deliverer.deliver_due`
sends every row that is due, one subscriber URL at a time, and records each attempt: `attempts`,
`last_error` (masked) and `next_attempt_at`, 1 min doubling to 1 h (`backoff`), until the row is
sent. A row is `failed` only when it can never be sent (its subscriber, topic or article is gone).

Exactly once, as nearly as a mail server allows:
- A deliverer claims a row before sending (`Store.claim`: a lease in the row itself), so two
  deliverers on one database (the daemon and a manual `scrapy crawl`, or two in one process)
  never send it at once: a lease names its store connection. After the claim the row is read
  again: the list of due rows may be stale, and
  a row another deliverer sent or failed in the meantime is left alone (it is no longer pending,
  or not due until its retry time).
- A row marked `sent` is never claimed again.
- After each URL that accepts the message its digest goes into `delivered` (a digest: the URLs
  carry secrets) and is committed before the next URL is tried, so a retry after a failure or a
  crash resends only to the URLs that did not take it.
- The one window in which a crash repeats a message is between a service accepting it and that
  commit (for e-mail it includes the SMTP QUIT exchange). The repeat carries the same Message-ID
  (`message_id.py`), which mail systems use to drop it; chat services such as Slack have no such
  field and show it twice (README, "Delivery": the window measured).
- A lease names its holder (`balkanwatch.storage.holder`). A restart takes over at once the
  leases of holders that are provably dead (a killed PID on this host, an earlier boot of this
  machine) and waits for the others to run out. It never runs out while its holder is sending:
  the holder renews it every `RENEW_EVERY` seconds until the send has really ended, and apprise
  is told not to abandon a send after a timeout (it would keep running in a worker thread, and
  could deliver after the lease was taken over). Each network step of a send is bounded by the
  plugin's socket timeouts.

Secrets: apprise URLs carry passwords and tokens. Everything this module stores or logs passes
through `redact`, and a logging filter on apprise's, urllib3's and this module's loggers redacts
their lines too (apprise logs webhook URLs at DEBUG, urllib3 request paths).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

import apprise

from balkanwatch.core.config import Config, Subscriber
from balkanwatch.core.schedule import last_due_period, parse_schedule, period_containing
from balkanwatch.core.secrets import mask_secrets
from balkanwatch.core.times import iso, parse_time
from balkanwatch.delivery.breaking import breaking_view
from balkanwatch.delivery.message_id import headers_for, message_id, with_headers
from balkanwatch.delivery.render import (
    Message,
    StoryView,
    render_breaking,
    render_digest,
    render_instant,
)
from balkanwatch.delivery.templating import templates_for
from balkanwatch.storage.store import Store

log = logging.getLogger(__name__)

BACKOFF_START = 60.0  # seconds before the first retry
BACKOFF_MAX = 3600.0
LEASE = 120.0  # seconds a lease lasts unless renewed: how long a dead holder on another host blocks
RENEW_EVERY = 15.0  # seconds between renewals while a send is in progress

Sender = Callable[[str, Message], Awaitable[str | None]]


def backoff(attempts: int) -> float:
    """Delay before the next try after `attempts` failed ones: 1 min doubling to 1 h.

    The exponent is bounded: an alert failing hourly for months has thousands of attempts, and
    `60.0 * 2**2000` overflows a float, which would stop the delivery loop at that row."""
    return min(BACKOFF_MAX, BACKOFF_START * 2 ** min(32, max(0, attempts - 1)))


def url_key(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:16]


# -- secrets ---------------------------------------------------------------------------------

_MIN_SECRET = 4  # shorter pieces would mask ordinary words all over the logs
_PIECES = re.compile(r"[^/:@?&=#,;\s]+")
_known_secrets: set[str] = set()


def remember_secrets(urls: Iterable[str]) -> None:
    """Learn the secret parts of these apprise URLs (what `mask_secrets` hides in them), so that
    `redact` removes them wherever they turn up: as a bare path in a urllib3 line, inside an
    exception message, percent-decoded."""
    for url in urls:
        kept = set(_PIECES.findall(mask_secrets(url)))
        for piece in _PIECES.findall(url):
            if piece not in kept:
                _known_secrets.update(p for p in (piece, unquote(piece)) if len(p) >= _MIN_SECRET)


def redact(text: str) -> str:
    """`text` without the secrets of known URLs and with every URL in it masked."""
    for secret in sorted(_known_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, "****")
    return mask_secrets(text)


class RedactingFilter(logging.Filter):
    """Redacts a record's message (and its traceback) before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to logging's own error path
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


_FILTER = RedactingFilter()
# A logger's filters do not apply to its children's records, so each logger that can print a URL
# is named: apprise logs everything on "apprise"; urllib3 logs request lines, retries, redirects.
for _name in (
    "apprise",
    "urllib3.connectionpool",
    "urllib3.util.retry",
    "urllib3.poolmanager",
    __name__,
):
    logging.getLogger(_name).addFilter(_FILTER)


# -- sending one message to one URL ----------------------------------------------------------

# service_timeout=0: apprise must not stop waiting for a send that is still running (it would go
# on in a worker thread and could deliver after our lease was taken over); see the docstring.
_ASSET = apprise.AppriseAsset(
    app_id="balkanwatch", app_desc="balkanwatch news alerts", service_timeout=0
)
_FAILURE_LEVELS = ("WARNING", "ERROR", "CRITICAL")


def body_for(service: Any, message: Message) -> tuple[str, str]:
    """The body and apprise format a service reads best, from what its plugin declares.

    The service's own format (its `?format=` if the URL has one, else the plugin's default)
    decides: plain text as it is; Markdown for chat services (apprise turns it into Slack mrkdwn,
    Telegram's dialect, ...); the HTML page for e-mail, which is the HTML-first kind of service
    that has no Markdown. Asking by URL scheme would miss `https://hooks.slack.com/...` URLs."""
    declared = getattr(service, "notify_format", apprise.NotifyFormat.TEXT)
    formats = tuple(declared) if isinstance(declared, tuple | list) else (declared,)
    resolve = getattr(service, "resolve_format", None)
    native = resolve(None) if resolve else formats[0]
    if native == apprise.NotifyFormat.MARKDOWN or (
        native == apprise.NotifyFormat.HTML and apprise.NotifyFormat.MARKDOWN in formats
    ):
        return message.markdown, apprise.NotifyFormat.MARKDOWN
    if native == apprise.NotifyFormat.HTML:
        return message.html, apprise.NotifyFormat.HTML
    return message.text, apprise.NotifyFormat.TEXT


async def apprise_send(url: str, message: Message) -> str | None:
    """Send one message to one apprise URL; None on success, else a redacted reason."""
    remember_secrets([url])
    ap = apprise.Apprise(asset=_ASSET)
    if not ap.add(url):
        return "not a valid apprise URL"
    headers = headers_for(ap[0], message.message_id, message.alert_id)
    if headers:  # the same service again, with the ids as its extra headers
        ap = apprise.Apprise(asset=_ASSET)
        if not ap.add(with_headers(url, headers)):
            return "not a valid apprise URL with the Message-ID header"
    body, fmt = body_for(ap[0], message)
    try:
        result = await ap.async_notify(body=body, title=message.subject, body_format=fmt)
    except Exception as e:  # a plugin's bug is this URL's failure, not the outbox's
        return redact(f"{type(e).__name__}: {e}")[:500]
    try:
        return None if result else _failure_reason(result)
    finally:
        getattr(result, "close", lambda: None)()  # releases apprise's captured logs


def _failure_reason(result: Any) -> str:
    """What apprise said went wrong, from the logs it captured for this one call (another
    coroutine's messages cannot mix in, as they would with a capture of the global logger)."""
    lines: list[str] = []
    for entry in getattr(result, "logs", list)():
        line = " ".join(str(entry.message).split())
        if entry.level in _FAILURE_LEVELS and line not in lines:
            lines.append(line)
    status = getattr(getattr(result, "status", None), "name", "failure").lower()
    return redact("; ".join(lines) or f"delivery failed ({status})")[:500]


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
        remember_secrets(url for sub in config.subscribers for url in sub.urls)
        self.templates = templates_for(config.settings.templates_dir)

    async def deliver_due(self) -> DeliveryReport:
        report = DeliveryReport()
        for listed in self.store.due_alerts(iso(self.clock())):
            row = self._lease(listed)
            if row is None:
                continue
            report.attempted += 1
            # Not released if this is cancelled mid-send: the send goes on in apprise's worker
            # thread and may still deliver, so the row stays ours until this process has ended
            # (then a restart here sees its holder gone) or the lease runs out.
            ok = await self._deliver_claimed(row)
            self._release(row["id"])
            report.sent += ok
            report.failed += not ok
        return report

    def _lease(self, listed: dict[str, Any]) -> dict[str, Any] | None:
        """The row as it is now, leased to us, if it is still due; else None."""
        now = self.clock()
        if not self.store.claim(listed["id"], now, LEASE):
            return None  # sent already, or another process is sending it
        row = self.store.alert(listed["id"])
        # Listed before the claim: another deliverer may have failed it since and set a retry time.
        if row is not None and (row["next_attempt_at"] or "") > iso(now):
            self.store.release(listed["id"])
            return None
        return row

    def _release(self, alert_id: int) -> None:
        self.store.release(alert_id)

    async def _deliver_claimed(self, row: dict[str, Any]) -> bool:
        try:
            return await self.deliver(row)
        except Exception as e:  # one broken row must not stop the rows after it
            log.error("Alert %s could not be delivered", row["id"], exc_info=True)
            self._retry_later(row, redact(f"{type(e).__name__}: {e}"))
            return False

    async def deliver(self, row: dict[str, Any]) -> bool:
        """Send one claimed row to every URL of its subscriber that has not taken it yet."""
        try:
            sub = self.config.subscriber(row["subscriber"])
        except KeyError:
            return self._give_up(row, "subscriber no longer configured")
        if row["kind"] == "instant" and row["topic"] and not sub.wants(row["topic"]):
            return self._give_up(row, f"subscriber no longer follows topic {row['topic']}")
        if row["kind"] == "breaking" and sub.breaking is None:
            return self._give_up(row, "subscriber no longer asks for breaking alerts")
        message = self.compose(row)
        if message is None:
            return self._give_up(row, "article no longer stored")
        errors = await self._send_to_each(row, sub, message)
        if errors:
            self._retry_later(row, "; ".join(errors))
            return False
        self.store.mark_sent(row["id"], iso(self.clock()))
        log.info("Alert %s sent to %s", row["id"], sub.name)
        return True

    async def _send_to_each(
        self, row: dict[str, Any], sub: Subscriber, message: Message
    ) -> list[str]:
        done = set(json.loads(row.get("delivered") or "[]"))
        errors = []
        for url in sub.urls:
            key = url_key(url)
            if key in done:
                continue
            one = replace(
                message,
                message_id=message_id(row, key, self.config.settings.message_id_domain),
                alert_id=row["id"],
            )
            try:
                error = await self._send_renewing(row["id"], url, one)
            except Exception as e:
                error = f"{type(e).__name__}: {e}"
            if error is None:
                done.add(key)
                # Committed now, before the next URL: see the module docstring.
                self.store.mark_delivered(row["id"], done)
            else:
                errors.append(f"{mask_secrets(url)}: {redact(error)}")
        return errors

    async def _send_renewing(self, alert_id: int, url: str, message: Message) -> str | None:
        """`send`, renewing our lease on the row until it has ended, however long it takes."""
        sending = asyncio.ensure_future(self.send(url, message))
        while True:
            done, _ = await asyncio.wait({sending}, timeout=RENEW_EVERY)
            if done:
                return sending.result()
            if not self.store.renew(alert_id, self.clock() + LEASE):
                # Only if this process stalled for a whole LEASE: the row may be sent twice.
                log.error("Alert %s: lease lost while sending to %s", alert_id, redact(url))

    def _retry_later(self, row: dict[str, Any], error: str) -> None:
        retry_at = iso(self.clock() + backoff(row["attempts"] + 1))
        self.store.mark_attempt_failed(row["id"], error, retry_at)
        log.warning(
            "Alert %s to %s failed, retry at %s: %s", row["id"], row["subscriber"], retry_at, error
        )

    def _give_up(self, row: dict[str, Any], reason: str) -> bool:
        self.store.mark_attempt_failed(row["id"], reason, None, True)
        log.warning("Alert %s to %s dropped: %s", row["id"], row["subscriber"], reason)
        return False

    # -- composing --------------------------------------------------------------------------

    def compose(self, row: dict[str, Any]) -> Message | None:
        tz = self.config.settings.tz
        if row["kind"] == "instant":
            view = self.story_view(row["article_id"], row["topic"])
            return render_instant(view, tz, self.templates) if view else None
        if row["kind"] == "digest":
            payload = json.loads(row["payload"])
            views = [
                v
                for item in payload["items"]
                if (v := self.story_view(item["article_id"], item["topic"]))
            ]
            start = datetime.fromisoformat(payload["start"])
            end = datetime.fromisoformat(payload["end"])
            if not views:
                return None
            return render_digest(views, start, end, tz, row["subscriber"], self.templates)
        if row["kind"] == "breaking":
            spread = breaking_view(row, self.store.story_timeline(row["story_id"]), self.config)
            return render_breaking(spread, tz, self.templates) if spread else None
        if row["kind"] == "operator":
            payload = json.loads(row["payload"])
            return Message(
                payload["subject"], payload["text"], payload["html"], payload["markdown"]
            )
        return None

    def story_view(self, article_id: int, topic_name: str) -> StoryView | None:
        art = self.store.article(article_id)
        if art is None:
            return None
        match = self.store.match(article_id, topic_name)
        others = self.store.story_copies(art["story_id"], except_id=article_id)
        topic_title = next(
            (t.title for t in self.config.topics if t.name == topic_name), topic_name
        )
        return StoryView(
            title=art["title"] or art["url"],
            url=art["url"],
            outlet=self.outlet_title(art["outlet"]),
            published=parse_time(art["published"]),
            topic_title=topic_title,
            terms=list(match.terms) if match else [],
            snippet=match.snippet if match else "",
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
        tz = self.config.settings.tz
        start, end = last_due_period(schedule, now, tz)
        end_iso = end.astimezone(UTC).isoformat(timespec="seconds")
        key = f"digest:{sub.name}:{end_iso}"
        with self.store.transaction():
            items = self._open_items(sub, end_iso)
            if not items:
                return 0  # an empty period sends nothing
            # Stories left from earlier periods (no digest was closed then) go in this one, and
            # its period says so.
            oldest = min(parse_time(i["created_at"]) or now for i in items)
            start = min(start, period_containing(schedule, oldest, tz)[0])
            payload = {
                "start": start.isoformat(),
                "end": end.isoformat(),
                "items": [{"article_id": i["article_id"], "topic": i["topic"]} for i in items],
            }
            row = {
                "subscriber": sub.name,
                "kind": "digest",
                "dedup_key": key,
                "payload": json.dumps(payload),
            }
            if not self.store.queue_alert(row):
                return 0  # this period's digest exists: the stragglers wait for the next one
            digest_id = self.store.alert_id_for(key)
            assert digest_id is not None  # queued just now, in this transaction
            self.store.attach_to_digest(digest_id, [i["id"] for i in items])
        return 1

    def _open_items(self, sub: Subscriber, end_iso: str) -> list[dict[str, Any]]:
        """The subscriber's stories queued before `end_iso` that no digest carries yet; those of
        topics the subscriber has stopped following are dropped instead."""
        items = self.store.open_digest_items(sub.name, end_iso)
        for item in items:
            if not sub.wants(item["topic"]):
                reason = f"subscriber no longer follows topic {item['topic']}"
                self.store.mark_attempt_failed(item["id"], reason, None, True)
        return [i for i in items if sub.wants(i["topic"])]


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
    return render_instant(view, config.settings.tz, templates_for(config.settings.templates_dir))
