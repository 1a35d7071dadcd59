"""Alert delivery that loses nothing: the outbox, retries with backoff, exactly-once sending,
digests, and secrets that never leak.

Everything real that can run here does: SQLite files, the ingest pipeline that queues alerts,
apprise, an SMTP server (aiosmtpd) and an HTTP webhook receiver on loopback. Slack cannot be
reached, so its requests are caught where `requests` would open the socket. Time is an injected
clock; nothing sleeps.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import random
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import apprise
import pytest

from balkanwatch.analysis.topics import TopicMatcher
from balkanwatch.core.config import Config, load_config
from balkanwatch.core.document import Document
from balkanwatch.core.secrets import mask_secrets
from balkanwatch.core.times import iso
from balkanwatch.delivery.alerts import (
    LEASE,
    Deliverer,
    DeliveryReport,
    apprise_send,
    backoff,
    body_for,
    redact,
    remember_secrets,
    sample_message,
)
from balkanwatch.delivery.render import Message
from balkanwatch.storage.store import Store
from pipelines.ingest import Ingester, IngestResult, build_index
from tests.http_capture import SMTPServer, WebhookServer, intercept_http
from tests.support import ROOT, free_port, write_config

BELGRADE = ZoneInfo("Europe/Belgrade")
T0 = datetime(2026, 12, 1, 7, 30, tzinfo=UTC).timestamp()

OUTLETS = [
    {"name": "koha", "title": "Koha", "homepage": "https://www.koha.net/", "language": "sq"},
    {"name": "rts", "title": "RTS", "homepage": "https://www.rts.rs/", "language": "sr"},
]
TOPICS = [
    {
        "name": "kosovo-security",
        "title": "Kosovo, NATO and KFOR",
        "keywords": ["Kosovo", "NATO", "KFOR"],
    },
    {"name": "albania", "title": "Albania", "keywords": ["Albania", "Tirana"]},
]
KOSOVO_BODY = (
    "Kosovo police and KFOR troops stepped up patrols near the Jarinje crossing on Monday after "
    "a week of tension in the north.\n"
    "NATO allies said the mission would keep its presence at the current level for the winter."
)
HOSTILE_TITLE = "<script>alert('x')</script> Kosovo police\r\nBcc: victim@evil.example"

_VOCABULARY = (
    "bridge council minister budget river election village court harbour winter market railway "
    "school hospital police border customs mayor parliament festival museum energy forest "
    "tunnel airport vineyard mine factory union strike harvest census treaty embassy coalition "
    "reform audit license archive highway stadium theatre monastery lake mountain valley"
)
_WORDS = sorted(set(_VOCABULARY.split()))


def distinct_body(seed: int, keyword: str = "Kosovo") -> str:
    """A body no other seed's body resembles, so each is a story of its own for dedup."""
    words = random.Random(seed).sample(_WORDS, 30)
    return f"{keyword} report {seed}: " + " ".join(words) + "."


class Clock:
    def __init__(self, at: float = T0) -> None:
        self.now = at

    def __call__(self) -> float:
        return self.now

    def at_local(self, text: str) -> None:
        """Move to a wall-clock time in Belgrade, e.g. '2026-12-01 09:00:30'."""
        self.now = local(text).timestamp()


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BELGRADE)


@dataclass
class World:
    """A configuration directory, its database, the real ingester and an injected clock."""

    path: Path
    config: Config
    store: Store
    ingester: Ingester
    clock: Clock = field(default_factory=Clock)
    stores: list[Store] = field(default_factory=list)

    def deliverer(self, send: Any = apprise_send, store: Store | None = None) -> Deliverer:
        return Deliverer(store or self.store, self.config, clock=self.clock, send=send)

    def deliver(self) -> DeliveryReport:
        return asyncio.run(self.deliverer().deliver_due())

    def ingest(
        self,
        slug: str,
        title: str,
        body: str = KOSOVO_BODY,
        outlet: str = "koha",
        published: str | None = "2026-12-01T07:15:00+00:00",
    ) -> IngestResult:
        host = {"koha": "https://www.koha.net", "rts": "https://www.rts.rs"}[outlet]
        return self.ingester.ingest(
            Document.of(
                url=f"{host}/2026/12/01/{slug}",
                outlet=outlet,
                title=title,
                body=body,
                published=published,
                language="en",
            )
        )

    def alerts(self, where: str = "1 = 1") -> list[dict[str, Any]]:
        return self.store.rows(f"SELECT * FROM alerts WHERE {where} ORDER BY id")

    def open_store(self) -> Store:
        """Another connection to the same database, as another process would have."""
        store = Store(self.config.database)
        self.stores.append(store)
        return store


@pytest.fixture
def make_world(tmp_path: Path, database: str) -> Iterator[Callable[..., World]]:
    """Worlds on each backend (the `database` fixture): a SQLite file or a PostgreSQL database."""
    worlds: list[World] = []

    def make(
        subscribers: list[dict[str, Any]],
        topics: list[dict[str, Any]] = TOPICS,
        env: dict[str, str] | None = None,
    ) -> World:
        cfg = write_config(
            tmp_path / f"cfg{len(worlds)}",
            OUTLETS,
            topics,
            subscribers,
            {"timezone": "Europe/Belgrade", "database": database},
        )
        config = load_config(cfg, env=env or {})
        store = Store(config.database)
        assert store.engine.dialect == ("sqlite" if "://" not in database else "postgresql")
        ingester = Ingester(store, config, TopicMatcher(config.topics), build_index(store, 14))
        world = World(cfg, config, store, ingester)
        worlds.append(world)
        return world

    yield make
    for world in worlds:
        for store in [world.store, *world.stores]:
            store.close()


# -- backoff and formats ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempts", "seconds"),
    [
        (1, 60),
        (2, 120),
        (3, 240),
        (4, 480),
        (5, 960),
        (6, 1920),
        (7, 3600),
        (8, 3600),
        (10_000, 3600),
    ],  # months of hourly failures must not overflow
)
def test_backoff_doubles_from_a_minute_to_an_hour(attempts: int, seconds: float) -> None:
    assert backoff(attempts) == seconds


@pytest.mark.parametrize(
    ("url", "part"),
    [
        ("mailto://127.0.0.1:25?from=a@example.org&to=b@example.org", "html"),
        ("mailto://127.0.0.1:25?from=a@example.org&to=b@example.org&format=text", "text"),
        ("slack://T1234ABCD/B5678EFGH/Z9y8X7w6V5u4T3s2R1q0P9o8/#balkans", "markdown"),
        (
            "https://hooks.slack.com/services/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",
            "markdown",
        ),
        ("json://127.0.0.1:8080/hook", "text"),
        ("tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/12345", "markdown"),
        ("ntfy://balkans", "text"),
    ],
)
def test_each_service_gets_the_part_it_reads_best(url: str, part: str) -> None:
    message = Message("subject", "the text", "<p>the html</p>", "the **markdown**")
    body, fmt = body_for(apprise.Apprise.instantiate(url), message)
    assert (body, fmt) == (getattr(message, part), part)


# -- the outbox ------------------------------------------------------------------------------


def test_alerts_commit_with_their_article_or_not_at_all(make_world: Callable[..., World]) -> None:
    world = make_world([{"name": "desk", "urls": ["json://127.0.0.1:9/hook"]}])
    with pytest.raises(RuntimeError), world.store.transaction():
        world.ingest("kfor-patrols", "KFOR patrols in the north")
        raise RuntimeError("killed before the commit")
    assert world.store.rows("SELECT id FROM articles") == []
    assert world.alerts() == []
    world.ingest("kfor-patrols", "KFOR patrols in the north")
    assert [(a["kind"], a["status"]) for a in world.alerts()] == [("instant", "pending")]


# -- instant alerts: e-mail, webhook, Slack --------------------------------------------------


def test_email_alert_has_text_and_html_parts_and_a_hostile_title_stays_text(
    make_world: Callable[..., World], mail: SMTPServer
) -> None:
    world = make_world([{"name": "desk", "urls": [mail.url()]}])
    world.ingest("police", HOSTILE_TITLE)
    world.ingest("police-copy", "Policia e Kosovës", outlet="rts")  # the same text elsewhere
    assert world.deliver() == DeliveryReport(attempted=1, sent=1)

    [msg] = mail.messages
    assert mail.envelopes == [("balkanwatch@example.org", ["desk@example.org"])]
    assert msg["Subject"] == (
        "[Kosovo, NATO and KFOR] <script>alert('x')</script> Kosovo police "
        "Bcc: victim@evil.example — Koha"
    )
    assert msg["Bcc"] is None and msg["To"] == "desk@example.org"
    assert msg.get_content_type() == "multipart/alternative"
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Kosovo police Bcc:" in html
    assert 'href="https://www.koha.net/2026/12/01/police"' in html
    assert "<strong>Kosovo</strong> police and <strong>KFOR</strong> troops" in html
    assert 'href="https://www.rts.rs/2026/12/01/police-copy"' in html
    for line in [
        "<script>alert('x')</script> Kosovo police Bcc: victim@evil.example",  # one line
        "Koha · 1 Dec 2026 08:15 CET",  # 07:15 UTC in the configured zone
        "Matched: Kosovo, KFOR, NATO",
        "https://www.koha.net/2026/12/01/police",
        "Also reported by: RTS",
    ]:
        assert line in text.splitlines()
    [row] = world.alerts()
    assert (row["status"], row["attempts"], row["last_error"]) == ("sent", 1, None)


def test_webhook_alert_posts_the_text_part(
    make_world: Callable[..., World], hook: WebhookServer
) -> None:
    world = make_world([{"name": "desk", "urls": [hook.url("/alerts", "bw:hook-pass")]}])
    world.ingest("police", "Kosovo police & KFOR <patrol> the north")
    assert world.deliver().sent == 1

    [got] = hook.received
    assert got.path == "/alerts"
    assert got.headers["authorization"] == "Basic " + base64.b64encode(b"bw:hook-pass").decode()
    assert got.headers["user-agent"] == "balkanwatch"
    payload = got.json()
    assert (
        payload["title"] == "[Kosovo, NATO and KFOR] Kosovo police & KFOR <patrol> the north — Koha"
    )
    assert payload["message"] == (
        "New story on Kosovo, NATO and KFOR:\n"
        "Kosovo police & KFOR <patrol> the north\n"
        "Koha · 1 Dec 2026 08:15 CET\n"
        "Matched: Kosovo, KFOR, NATO\n"
        "\n"
        "*Kosovo* police and *KFOR* troops stepped up patrols near the Jarinje crossing on Monday "
        "after a week of tension in the north.\n"
        "\n"
        "Read it: https://www.koha.net/2026/12/01/police"  # apprise drops the final newline
    )
    assert payload["type"] == "info"


SLACK_URL = "slack://T1234ABCD/B5678EFGH/Z9y8X7w6V5u4T3s2R1q0P9o8/#balkans"
SLACK_TOKENS = ("T1234ABCD", "B5678EFGH", "Z9y8X7w6V5u4T3s2R1q0P9o8")


def test_slack_alert_is_mrkdwn_with_a_link_and_escaped_text(
    make_world: Callable[..., World], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    world = make_world([{"name": "desk", "urls": [SLACK_URL]}])
    world.ingest("police", "<script>alert(1)</script> NATO & KFOR <!channel>")
    world.ingest("police-copy", "Policia e Kosovës", outlet="rts")
    with intercept_http() as sent:
        assert world.deliver().sent == 1

    [request] = sent
    assert request.url == "https://hooks.slack.com/services/" + "/".join(SLACK_TOKENS)
    body = request.body.decode() if isinstance(request.body, bytes) else str(request.body)
    payload = json.loads(body)
    [attachment] = payload["attachments"]
    assert payload["channel"] == "#balkans"
    assert attachment["title"] == (
        "[Kosovo, NATO and KFOR] &lt;script&gt;alert(1)&lt;/script&gt; NATO &amp; KFOR "
        "&lt;!channel&gt; — Koha"
    )
    assert attachment["text"].splitlines() == [
        "New story on Kosovo, NATO and KFOR",
        "*<https://www.koha.net/2026/12/01/police|&lt;script&gt;alert(1)&lt;/script&gt; NATO "
        "&amp; KFOR &lt;!channel&gt;>*",
        "Koha · 1 Dec 2026 08:15 CET",
        "Matched: NATO, KFOR, Kosovo",
        "",
        "*Kosovo* police and *KFOR* troops stepped up patrols near the Jarinje crossing on "
        "Monday after a week of tension in the north.",
        "",
        "Also reported by: <https://www.rts.rs/2026/12/01/police-copy|RTS>",
    ]
    assert "<script>" not in body and "<!channel>" not in body
    # apprise logged the webhook URL at DEBUG; the tokens in it did not reach the log.
    assert "Slack POST URL: https://hooks.slack.com/services/****/****/****" in caplog.text
    assert not any(token in caplog.text for token in SLACK_TOKENS)


# -- retries ---------------------------------------------------------------------------------

# (seconds after the first try, SMTP up?, attempted, status, attempts, next try in seconds)
SMTP_OUTAGE = [
    (0, False, 1, "pending", 1, 60),
    (59, False, 0, "pending", 1, 60),  # not due yet: nothing is tried
    (60, False, 1, "pending", 2, 60 + 120),
    (180, False, 1, "pending", 3, 180 + 240),
    (420, True, 1, "sent", 4, None),
    (4000, True, 0, "sent", 4, None),  # sent rows are never tried again
]


def test_smtp_down_keeps_the_alert_pending_with_backoff_until_it_is_sent_once(
    make_world: Callable[..., World], mail: SMTPServer
) -> None:
    world = make_world([{"name": "desk", "urls": [mail.url()]}])
    world.ingest("police", "Kosovo police patrol the north")
    mail.stop()
    for offset, up, attempted, status, attempts, retry in SMTP_OUTAGE:
        if up and mail.controller is None:
            mail.start()
        world.clock.now = T0 + offset
        assert world.deliver().attempted == attempted, offset
        [row] = world.alerts()
        assert (row["status"], row["attempts"]) == (status, attempts), offset
        assert row["next_attempt_at"] == (iso(T0 + retry) if retry is not None else None)
        if status == "pending":
            assert 'Connection error while submitting email to "127.0.0.1"' in row["last_error"]
        else:
            assert row["last_error"] is None and row["sent_at"] == iso(T0 + 420)
    assert len(mail.messages) == 1


def test_a_retry_resends_only_to_the_url_that_failed(
    make_world: Callable[..., World], mail: SMTPServer, hook: WebhookServer
) -> None:
    world = make_world([{"name": "desk", "urls": [mail.url(), hook.url("/alerts")]}])
    world.ingest("police", "Kosovo police patrol the north")
    hook.statuses = [503]
    assert world.deliver() == DeliveryReport(attempted=1, failed=1)
    [row] = world.alerts()
    assert row["status"] == "pending"
    assert row["last_error"].startswith(mask_secrets(hook.url("/alerts")) + ": ")
    assert "error=503" in row["last_error"] and "mailto" not in row["last_error"]

    world.clock.now = T0 + 60
    assert world.deliver().sent == 1
    assert (len(mail.messages), len(hook.received)) == (1, 2)
    assert world.alerts()[0]["status"] == "sent"


class Killed(BaseException):
    """The process dying in the middle of a send (not an error the loop may catch)."""


def test_a_crash_between_urls_resends_only_to_the_rest(
    make_world: Callable[..., World], mail: SMTPServer, hook: WebhookServer
) -> None:
    world = make_world([{"name": "desk", "urls": [mail.url(), hook.url("/alerts")]}])
    world.ingest("police", "Kosovo police patrol the north")

    async def dies_at_the_webhook(url: str, message: Message) -> str | None:
        if url.startswith("json://"):
            raise Killed
        return await apprise_send(url, message)

    with pytest.raises(Killed):
        asyncio.run(world.deliverer(send=dies_at_the_webhook).deliver_due())
    [row] = world.alerts()
    assert (row["status"], len(json.loads(row["delivered"]))) == ("pending", 1)

    # The "killed" holder is this live process, so its lease is respected until it runs out.
    restarted = world.deliverer(store=world.open_store())
    assert asyncio.run(restarted.deliver_due()).attempted == 0
    world.clock.now += LEASE + 1
    assert asyncio.run(restarted.deliver_due()).sent == 1
    assert (len(mail.messages), len(hook.received)) == (1, 1)


HOLD_LEASE = """
import sys
from balkanwatch.storage.store import Store
assert Store(sys.argv[1]).claim(int(sys.argv[2]), float(sys.argv[3]), lease=300)
print("held", flush=True)
sys.stdin.read()
"""


@pytest.mark.parametrize(("killed", "attempted_meanwhile"), [(False, 0), (True, 1)])
def test_a_row_leased_by_another_process_waits_until_it_dies_or_the_lease_ends(
    make_world: Callable[..., World], hook: WebhookServer, killed: bool, attempted_meanwhile: int
) -> None:
    world = make_world([{"name": "desk", "urls": [hook.url()]}])
    world.ingest("police", "Kosovo police patrol the north")
    [row] = world.alerts()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LEASE, str(world.config.database), str(row["id"]), str(T0)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        if killed:
            holder.kill()  # mid-send: no release, the lease stays in the row
            holder.wait()
        world.clock.now = T0 + 10
        assert world.deliver().attempted == attempted_meanwhile
        world.clock.now = T0 + 301  # the lease has run out even if its holder still runs
        world.deliver()
    finally:
        holder.kill()
        holder.communicate()
    assert len(hook.received) == 1 and world.alerts()[0]["status"] == "sent"


@pytest.mark.parametrize("other_outcome", [None, "503 from the webhook"])
def test_rows_listed_before_another_deliverer_acted_are_left_alone(
    make_world: Callable[..., World], other_outcome: str | None
) -> None:
    """B lists both rows; while B sends the first, A sends (or fails) the second. B must not
    send the second: it is sent already, or not due until its retry time."""
    world = make_world([{"name": "desk", "urls": ["json://127.0.0.1:9/hook"]}])
    world.ingest("first", "Kosovo first", distinct_body(1))
    world.ingest("second", "Kosovo second", distinct_body(2))
    sends: list[tuple[str, str]] = []

    async def send_a(url: str, message: Message) -> str | None:
        sends.append(("A", message.subject))
        return other_outcome

    a = world.deliverer(send=send_a, store=world.open_store())

    async def send_b(url: str, message: Message) -> str | None:
        sends.append(("B", message.subject))
        if len(sends) == 1:
            assert (await a.deliver_due()).attempted == 1  # the first row is B's: A skips it
        return None

    asyncio.run(world.deliverer(send=send_b).deliver_due())
    assert [(who, subject.split("] ")[1].split(" — ")[0]) for who, subject in sends] == [
        ("B", "Kosovo first"),
        ("A", "Kosovo second"),
    ]
    second = world.alerts()[1]
    assert second["status"] == ("sent" if other_outcome is None else "pending")
    assert second["attempts"] == 1


def test_two_deliverers_on_one_database_send_each_alert_once(
    make_world: Callable[..., World], mail: SMTPServer
) -> None:
    world = make_world([{"name": "desk", "urls": [mail.url()]}])
    for i in range(12):
        world.ingest(f"story-{i}", f"Kosovo story {i}", distinct_body(i))
    assert len(world.alerts()) == 12
    start = threading.Barrier(2)
    reports: list[DeliveryReport] = []

    def run() -> None:
        store = Store(world.config.database)  # a connection of its own, as another process has
        try:
            deliverer = Deliverer(store, world.config, clock=world.clock)
            start.wait()
            reports.append(asyncio.run(deliverer.deliver_due()))
        finally:
            store.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(r.sent for r in reports) == 12 and sum(r.failed for r in reports) == 0
    subjects = sorted(m["Subject"] for m in mail.messages)
    assert len(subjects) == 12 and len(set(subjects)) == 12
    assert {(a["status"], a["attempts"]) for a in world.alerts()} == {("sent", 1)}


# -- who gets what ---------------------------------------------------------------------------


def test_a_subscriber_limited_to_a_topic_gets_nothing_for_the_others(
    make_world: Callable[..., World], hook: WebhookServer
) -> None:
    world = make_world(
        [
            {"name": "kosovo-desk", "urls": [hook.url("/kosovo")], "topics": ["kosovo-security"]},
            {"name": "everything", "urls": [hook.url("/all")]},
        ]
    )
    world.ingest("floods", "Floods in Albania", distinct_body(1, "Tirana"))
    world.ingest("police", "Kosovo police patrol the north")
    assert world.deliver().sent == 3
    titles = {(r.path, r.json()["title"].split("] ")[0]) for r in hook.received}
    assert titles == {
        ("/kosovo", "[Kosovo, NATO and KFOR"),
        ("/all", "[Kosovo, NATO and KFOR"),
        ("/all", "[Albania"),
    }


def test_a_topic_dropped_from_a_subscription_is_not_sent_from_the_backlog(
    make_world: Callable[..., World],
) -> None:
    world = make_world([{"name": "desk", "urls": ["json://127.0.0.1:9/hook"]}])
    world.ingest("floods", "Floods in Albania", distinct_body(1, "Tirana"))
    narrowed = make_world(
        [{"name": "desk", "urls": ["json://127.0.0.1:9/hook"], "topics": ["kosovo-security"]}]
    )
    sends: list[str] = []

    async def send(url: str, message: Message) -> str | None:
        sends.append(message.subject)
        return None

    deliverer = Deliverer(world.store, narrowed.config, clock=world.clock, send=send)
    assert asyncio.run(deliverer.deliver_due()) == DeliveryReport(attempted=1, failed=1)
    assert sends == []
    [row] = world.alerts()
    assert (row["status"], row["last_error"]) == (
        "failed",
        "subscriber no longer follows topic albania",
    )


# -- digests ---------------------------------------------------------------------------------


def queue_digest_story(
    world: World, slug: str, title: str, created: str, published: str, body: str
) -> None:
    """Ingest a story and set when its digest item was queued (the ingester uses the real
    clock; digests are cut by that time)."""
    result = world.ingest(slug, title, body, published=local(published).isoformat())
    assert result.alerts_queued == 1
    world.store.engine.execute(
        "UPDATE alerts SET created_at = ? WHERE article_id = ?",
        (local(created).astimezone(UTC).isoformat(timespec="seconds"), result.article_id),
    )


HOURLY_STORIES = [  # slug, title, queued at (Belgrade), published, body keyword
    ("a", "Kosovo A", "2026-12-01 08:10:00", "2026-12-01 08:05", "Kosovo"),
    ("d", "Albania D", "2026-12-01 08:30:00", "2026-12-01 08:20", "Tirana"),
    ("b", "Kosovo B", "2026-12-01 08:59:59", "2026-12-01 08:50", "Kosovo"),
    ("c", "Kosovo C", "2026-12-01 09:00:00", "2026-12-01 08:58", "Kosovo"),  # next period
]
DAILY_STORIES = [
    ("a", "Kosovo A", "2026-11-30 09:00:00", "2026-11-30 08:30", "Kosovo"),
    ("b", "Kosovo B", "2026-12-01 07:59:59", "2026-12-01 07:00", "Kosovo"),
    ("c", "Kosovo C", "2026-12-01 08:00:00", "2026-12-01 07:55", "Kosovo"),
]
# schedule, stories, [(Belgrade time of the pass, stories in the digest sent then, its period)]
DIGEST_CASES = [
    (
        "hourly",
        HOURLY_STORIES,
        [
            ("2026-12-01 08:59:59", [], None),
            (
                "2026-12-01 09:00:30",
                ["Kosovo B", "Kosovo A", "Albania D"],
                "1 Dec 2026 08:00–09:00",
            ),
            ("2026-12-01 09:59:00", [], None),
            ("2026-12-01 10:00:05", ["Kosovo C"], "1 Dec 2026 09:00–10:00"),
            ("2026-12-01 11:00:05", [], None),  # an empty period sends nothing
        ],
    ),
    (
        "daily 08:00",
        DAILY_STORIES,
        [
            ("2026-12-01 07:59:00", [], None),
            (
                "2026-12-01 08:00:10",
                ["Kosovo B", "Kosovo A"],
                "30 Nov 2026 08:00 – 1 Dec 2026 08:00",
            ),
            ("2026-12-01 20:00:00", [], None),
            ("2026-12-02 08:00:10", ["Kosovo C"], "1 Dec 2026 08:00 – 2 Dec 2026 08:00"),
            ("2026-12-03 08:00:10", [], None),
        ],
    ),
]


@pytest.mark.parametrize(("schedule", "stories", "passes"), DIGEST_CASES)
def test_digests_cut_periods_in_the_configured_zone(
    make_world: Callable[..., World],
    hook: WebhookServer,
    schedule: str,
    stories: list[tuple[str, ...]],
    passes: list[tuple[str, list[str], str | None]],
) -> None:
    world = make_world([{"name": "desk", "urls": [hook.url("/digest")], "digest": schedule}])
    for seed, (slug, title, created, published, keyword) in enumerate(stories):
        queue_digest_story(world, slug, title, created, published, distinct_body(seed, keyword))
    for when, titles, period in passes:
        world.clock.at_local(when)
        before = len(hook.received)
        deliverer = world.deliverer()
        assert deliverer.close_digests() == (1 if titles else 0), when
        asyncio.run(deliverer.deliver_due())
        sent = hook.received[before:]
        assert len(sent) == (1 if titles else 0), when
        if titles:
            payload = sent[0].json()
            noun = "story" if len(titles) == 1 else "stories"
            assert payload["title"] == f"balkanwatch digest: {len(titles)} {noun}, {period}"
            listed = [ln[2:] for ln in payload["message"].splitlines() if ln.startswith("* ")]
            assert listed == titles, when
    # Each story in exactly one digest, and sent with it.
    items = world.alerts("kind = 'digest-item'")
    assert all(i["digest_id"] is not None and i["status"] == "sent" for i in items)
    digests = {i["digest_id"] for i in items}
    assert len(digests) == sum(1 for _, titles, _ in passes if titles)


def test_a_digest_groups_by_topic_newest_first(
    make_world: Callable[..., World], hook: WebhookServer
) -> None:
    world = make_world([{"name": "desk", "urls": [hook.url()], "digest": "hourly"}])
    for seed, (slug, title, created, published, keyword) in enumerate(HOURLY_STORIES[:3]):
        queue_digest_story(world, slug, title, created, published, distinct_body(seed, keyword))
    world.clock.at_local("2026-12-01 09:00:30")
    deliverer = world.deliverer()
    deliverer.close_digests()
    asyncio.run(deliverer.deliver_due())
    [got] = hook.received
    lines = got.json()["message"].splitlines()
    assert lines[:3] == ["balkanwatch digest for desk", "3 stories, 1 Dec 2026 08:00–09:00 CET", ""]
    headings = [ln for ln in lines if ln.startswith("== ")]
    assert headings == ["== Kosovo, NATO and KFOR (2) ==", "== Albania (1) =="]
    b = lines.index("* Kosovo B")
    assert lines[b + 1] == "  Koha · 1 Dec 2026 08:50 CET"
    assert lines[b + 2].startswith("  *Kosovo* report 2:")
    assert lines[b + 3] == "  https://www.koha.net/2026/12/01/b"


def test_stories_of_periods_without_a_digest_go_in_the_next_one(
    make_world: Callable[..., World], hook: WebhookServer
) -> None:
    world = make_world([{"name": "desk", "urls": [hook.url()], "digest": "hourly"}])
    queue_digest_story(
        world, "early", "Kosovo early", "2026-12-01 06:10:00", "2026-12-01 06:00", distinct_body(1)
    )
    queue_digest_story(
        world, "late", "Kosovo late", "2026-12-01 08:10:00", "2026-12-01 08:00", distinct_body(2)
    )
    world.clock.at_local("2026-12-01 09:00:30")  # the daemon was down from 06:30 to 09:00
    deliverer = world.deliverer()
    assert deliverer.close_digests() == 1
    asyncio.run(deliverer.deliver_due())
    [got] = hook.received
    assert got.json()["title"] == "balkanwatch digest: 2 stories, 1 Dec 2026 06:00–09:00"


# -- secrets ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["smtp-down", "webhook-503", "slack-403"])
def test_a_secret_in_a_url_never_reaches_errors_logs_or_output(
    make_world: Callable[..., World],
    hook: WebhookServer,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    kind: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = ["Sup3rS3cretPw", "Tok3nS3cretValue99", *SLACK_TOKENS]
    url = {
        "smtp-down": f"mailto://desk:{secrets[0]}@127.0.0.1:{free_port()}"
        "?from=bw@example.org&to=desk@example.org&secure=no",
        "webhook-503": hook.url(f"/hook/{secrets[1]}", f"bw:{secrets[0]}"),
        "slack-403": SLACK_URL,
    }[kind]
    hook.statuses = [503]
    world = make_world([{"name": "desk", "urls": [url]}])
    world.ingest("police", "Kosovo police patrol the north")
    with intercept_http(403, b"invalid_token") if kind == "slack-403" else nullcontext():
        assert world.deliver().failed == 1
    [row] = world.alerts()
    out = capsys.readouterr()
    assert row["last_error"].startswith(mask_secrets(url) + ": ")
    for secret in secrets:
        for where in (row["last_error"], caplog.text, out.out, out.err):
            assert secret not in where, (secret, where)


@pytest.mark.parametrize(
    ("url", "text", "clean"),
    [
        (
            "slack://T1234ABCD/B5678EFGH/Z9y8X7w6V5u4T3s2R1q0P9o8/#balkans",
            "Max retries exceeded with url: /services/T1234ABCD/B5678EFGH/Z9y8X7w6V5u4T3s2R1q0P9o8",
            "Max retries exceeded with url: /services/****/****/****",
        ),
        (
            "mailtos://desk:p%40ss-w0rd@smtp.example.org?to=desk@example.org",
            "login failed for password p@ss-w0rd",
            "login failed for password ****",
        ),
        (
            "json://bw:hunter22@hooks.example.org/in",
            "auth bw:hunter22 refused",
            "auth bw:**** refused",
        ),
    ],
)
def test_redact_removes_known_secrets_wherever_they_appear(url: str, text: str, clean: str) -> None:
    remember_secrets([url])
    assert redact(text) == clean


# -- balkanwatch test-alert ------------------------------------------------------------------


def run_test_alert(cfg: Path, name: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "balkanwatch.app.cli", "test-alert", name],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "BALKANWATCH_CONFIG": str(cfg), **env},
    )


def test_test_alert_reports_each_url(tmp_path: Path, mail: SMTPServer) -> None:
    dead = f"json://bw:${{HOOK_PASS}}@127.0.0.1:{free_port()}/hook"
    cfg = write_config(
        tmp_path / "cfg",
        OUTLETS,
        TOPICS,
        [
            {"name": "desk", "urls": [mail.url(), dead]},
            {"name": "mail-only", "urls": [mail.url()]},
        ],
    )
    env = {"HOOK_PASS": "Sup3rS3cretPw"}
    done = run_test_alert(cfg, "desk", env)
    assert done.returncode == 1, done.stderr
    mail_line, hook_line = done.stdout.splitlines()
    assert mail_line == f"{mail.url()}: delivered"
    assert hook_line.startswith(mask_secrets(dead.replace("${HOOK_PASS}", "x")) + ": FAILED: ")
    assert "Connection error" in hook_line
    assert "Sup3rS3cretPw" not in done.stdout + done.stderr
    [msg] = mail.messages
    assert msg["Subject"] == "[Test] balkanwatch test alert: Kosovo, NATO and KFOR — balkanwatch"

    ok = run_test_alert(cfg, "mail-only", env)
    assert (ok.returncode, ok.stdout) == (0, f"{mail.url()}: delivered\n")
    assert run_test_alert(cfg, "nobody", env).returncode == 1


def test_sample_message_names_the_test_and_shows_the_zone(make_world: Callable[..., World]) -> None:
    message = sample_message(make_world([]).config)
    assert message.subject.startswith("[Test] balkanwatch test alert")
    assert " CET" in message.text or " CEST" in message.text
