"""Delivery exactly once, whatever moment the process dies (issue 20).

A real SMTP server SIGKILLs the crawl's process group inside DATA (the message is not delivered)
or at QUIT (it is: the server has answered 250), and `scrapy crawl outlets` is started again at
once. After the restart nothing is pending, and every story arrived once or its copies share one
Message-ID, which is derived from the alert and the URL and carried as a real header.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from balkanwatch.core.config import ConfigError, load_config
from balkanwatch.delivery.alerts import url_key
from balkanwatch.delivery.message_id import message_id, without_other_message_ids
from balkanwatch.storage.store import Store
from tests import test_alerts
from tests.http_capture import SMTPServer, WebhookServer
from tests.smtp_killer import KillingSMTP
from tests.support import (
    FixtureSite,
    article_page,
    crawl,
    rss,
    start_crawl,
    write_config,
)
from tests.test_alerts import World, queue_digest_story

make_world = test_alerts.make_world  # a fixture: the configuration, store and ingester of a test


N = 3
DOMAIN = "alerts.example.org"


def message_ids(msg: EmailMessage) -> list[str]:
    return [str(v) for v in msg.get_all("Message-ID") or []]


# -- the ids as recipients get them ----------------------------------------------------------


def test_an_email_alert_carries_one_message_id_of_the_alert_and_url_and_the_alert_id(
    make_world: Callable[..., World], mail: SMTPServer
) -> None:
    urls = [mail.url("desk@example.org"), mail.url("night@example.org")]
    world = make_world([{"name": "desk", "urls": urls}])
    world.ingest("police", "Kosovo police patrol the north")
    assert world.deliver().sent == 1
    [row] = world.alerts()
    assert len(mail.messages) == 2
    for url, msg in zip(urls, mail.messages, strict=True):
        # Exactly one: apprise adds a random one of its own after ours unless it is dropped.
        assert message_ids(msg) == [message_id(row, url_key(url), "balkanwatch.invalid")]
        assert msg["X-Balkanwatch-Alert"] == str(row["id"])
    assert len({message_ids(m)[0] for m in mail.messages}) == 2  # one per URL


def test_a_retry_carries_the_same_message_id(
    make_world: Callable[..., World], mail: SMTPServer
) -> None:
    world = make_world([{"name": "desk", "urls": [mail.url()]}])
    world.ingest("police", "Kosovo police patrol the north")
    delivered = world.open_store()
    # The first try reaches the server, which takes the message; the deliverer dies before it
    # records that (simulated by forgetting it), so the next try sends it again.
    assert world.deliver().sent == 1
    delivered.engine.execute("UPDATE alerts SET status = 'pending', delivered = NULL")
    assert world.deliver().sent == 1
    first, second = mail.messages
    assert message_ids(first) == message_ids(second) and len(message_ids(first)) == 1


def test_digests_and_operator_alerts_carry_message_ids_too(
    make_world: Callable[..., World], mail: SMTPServer
) -> None:
    world = make_world([{"name": "desk", "urls": [mail.url()], "digest": "hourly"}])
    queue_digest_story(world, "a", "Kosovo A", "2026-12-01 08:10:00", "2026-12-01 08:05", "Kosovo")
    world.clock.at_local("2026-12-01 09:00:30")
    assert world.deliverer().close_digests() == 1
    operator = {"subject": "outlet koha down", "text": "t", "html": "<p>t</p>", "markdown": "t"}
    row = {"subscriber": "desk", "kind": "operator", "dedup_key": "operator:koha"}
    assert world.store.queue_alert({**row, "payload": json.dumps(operator)})
    assert world.deliver().sent == 2
    rows = {r["kind"]: r for r in world.alerts("kind IN ('digest', 'operator')")}
    got = {msg["X-Balkanwatch-Alert"]: message_ids(msg) for msg in mail.messages}
    key = url_key(mail.url())
    assert got == {str(r["id"]): [message_id(r, key, "balkanwatch.invalid")] for r in rows.values()}


def test_a_webhook_gets_the_ids_as_http_headers(
    make_world: Callable[..., World], hook: WebhookServer
) -> None:
    world = make_world([{"name": "desk", "urls": [hook.url("/alerts")]}])
    world.ingest("police", "Kosovo police patrol the north")
    world.deliver()
    [row], [received] = world.alerts(), hook.received
    expected = message_id(row, url_key(hook.url("/alerts")), "balkanwatch.invalid")
    assert received.headers["x-balkanwatch-message-id"] == expected
    assert received.headers["x-balkanwatch-alert"] == str(row["id"])


def test_message_ids_differ_between_alerts_and_databases() -> None:
    row = {"id": 7, "dedup_key": "story:desk:3:kosovo", "created_at": "2026-12-01T07:00:00"}
    again = message_id(dict(row), "k1", DOMAIN)
    assert message_id(row, "k1", DOMAIN) == again and again.endswith(f"@{DOMAIN}>")
    # The same id and key in a database made later: another alert, another Message-ID.
    assert message_id({**row, "created_at": "2027-01-05T10:00:00"}, "k1", DOMAIN) != again
    assert message_id({**row, "id": 8, "dedup_key": "story:desk:4:kosovo"}, "k1", DOMAIN) != again
    assert message_id(row, "k2", DOMAIN) != again


def test_the_message_id_domain_is_a_setting(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "ok", [], settings={"message_id_domain": "Alerts.Example.org"})
    assert load_config(cfg, env={}).settings.message_id_domain == "alerts.example.org"
    bad = write_config(tmp_path / "bad", [], settings={"message_id_domain": "a b@c>"})
    with pytest.raises(ConfigError, match="message_id_domain"):
        load_config(bad, env={})


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_only_our_message_id_is_kept_even_folded(newline: str) -> None:
    raw = newline.join(
        [
            "Message-ID: <ours@x>",
            "Subject: s",
            "message-id:",
            " <theirs@apprise>",
            "To: a@b",
            "",
            "Message-ID: <in the body@x>",
        ]
    )
    kept = without_other_message_ids(raw, "<ours@x>")
    assert kept == newline.join(
        ["Message-ID: <ours@x>", "Subject: s", "To: a@b", "", "Message-ID: <in the body@x>"]
    )


# -- killed at a moment of the SMTP dialogue, then restarted -----------------------------------


@pytest.fixture
def site() -> Iterator[FixtureSite]:
    s = FixtureSite("127.0.0.9")
    items = []
    for i in range(N):
        path = f"/2026/12/01/crash-{i}"
        topic = ["roads", "schools", "energy"][i]
        paras = [f"Story {i}: the Kosovo assembly debated {topic} for district {i * 17}."] * 3
        s.add(path, article_page(f"Kosovo story {i}", paras))
        items.append({"title": f"Kosovo story {i}", "link": s.url(path)})
    s.add("/feed/", rss(items), content_type="application/rss+xml")
    yield s
    s.close()


def copies_by_subject(messages: list[EmailMessage]) -> dict[str, list[EmailMessage]]:
    copies: dict[str, list[EmailMessage]] = defaultdict(list)
    for msg in messages:
        copies[str(msg["Subject"])].append(msg)
    return copies


@pytest.mark.parametrize(("moment", "repeats"), [("DATA", 0), ("QUIT", 1)])
def test_killed_inside_data_or_at_quit_then_restarted_nothing_pending_no_unmarked_repeat(
    tmp_path: Path, site: FixtureSite, moment: str, repeats: int
) -> None:
    server = KillingSMTP(moment)
    try:
        cfg = write_config(
            tmp_path / "cfg",
            [{"name": "fixture", "homepage": site.url("/"), "feeds": [site.url("/feed/")]}],
            subscribers=[{"name": "desk", "urls": [server.url()]}],
            settings={"message_id_domain": DOMAIN},
        )
        first = start_crawl(cfg)
        server.arm(first.pid)
        first.wait(timeout=120)
        assert server.killed_at == moment, "the server should have killed the crawl"
        store = Store(cfg / "bw.db")
        try:
            left = store.rows("SELECT lease_owner FROM alerts WHERE status = 'pending'")
            # The killed crawl's lease is still in its row: the restart must see it is dead.
            assert len(left) == N and sum(r["lease_owner"] is not None for r in left) == 1
            assert f"|{first.pid}|" in next(r["lease_owner"] for r in left if r["lease_owner"])
        finally:
            store.close()

        restart = crawl(cfg)
        assert restart.returncode == 0, restart.stderr[-2000:]
    finally:
        server.stop()
    store = Store(cfg / "bw.db")
    try:
        alerts = store.rows("SELECT id, status FROM alerts")
    finally:
        store.close()
    assert [a["status"] for a in alerts] == ["sent"] * N  # nothing pending
    copies = copies_by_subject(server.messages)
    assert len(copies) == N
    for subject, msgs in copies.items():
        ids = {tuple(message_ids(m)) for m in msgs}
        assert len(ids) == 1, f"{subject}: copies with different Message-IDs {ids}"
        [(one,)] = ids
        assert one.endswith(f"@{DOMAIN}>")
    assert sum(len(m) - 1 for m in copies.values()) == repeats
    assert {m["X-Balkanwatch-Alert"] for m in server.messages} == {str(a["id"]) for a in alerts}
