"""A simulated burst under the real crawl: one story published by five loopback outlets minutes
apart (with wire copies at one of them), another story at three outlets, `scrapy crawl outlets`
storing and alerting, and a real SMTP server (aiosmtpd) receiving the alerts.

The story texts are the hand-written copies of tests/data/dedup/ (see its README), so the
outlets are recognised as carrying one story by the product's own near-duplicate detection.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import feedparser
import pytest

from balkanwatch.core.config import load_config
from balkanwatch.delivery.atom import write_topic_feeds
from balkanwatch.storage.store import Store
from tests.data.dedup.fixtures import load_groups
from tests.support import (
    FixtureSite,
    SMTPSink,
    article_page,
    cli,
    crawl,
    feed_outlets,
    rss,
    start_crawl,
    write_config,
)
from tests.test_daemon import count, wait_for

NOW = datetime.now(UTC).replace(microsecond=0)
SPREADING = "01-kfor-patrols-north"
LOCAL = "14-mitrovica-police-raid"
# (outlet, group, variant, minutes before now): the spreading story reaches a fifth outlet 40
# minutes after the first; outlet 0 runs it twice (the original and a wire copy with a new
# headline); the local story stays at three outlets.
COPIES = [
    (0, SPREADING, "original", 50),
    (0, SPREADING, "headline", 46),
    (1, SPREADING, "wire_a", 42),
    (2, SPREADING, "wire_b", 33),
    (3, SPREADING, "wire_c", 21),
    (4, SPREADING, "para_added", 10),
    (0, LOCAL, "original", 40),
    (1, LOCAL, "para_cut", 30),
    (2, LOCAL, "republished", 20),
]
RULE = {"outlets": 4, "within": "2h"}


def split(text: str) -> tuple[str, list[str]]:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[0], lines[1:]


@dataclass
class Burst:
    sites: list[FixtureSite]
    cfg: Path
    gates: dict[str, threading.Event]  # path -> released when set (a page held back)

    def url(self, n: int) -> str:
        outlet = COPIES[n][0]
        return self.sites[outlet].url(path(n))


def path(n: int) -> str:
    return f"/2026/12/04/copy-{n}"


def gated(page: str, gate: threading.Event) -> Callable[[], bytes]:
    def body() -> bytes:
        gate.wait(60)  # the page answers once the test lets it
        return page.encode()

    return body


def build(
    tmp_path: Path,
    make_site: Callable[[str], FixtureSite],
    smtp: SMTPSink,
    hold: tuple[int, ...] = (),
) -> Burst:
    """Five outlets publishing COPIES, pages `hold` answering only once their gate is set."""
    groups = load_groups()
    sites = [make_site(f"127.0.0.{31 + i}") for i in range(6)]
    items: list[list[dict[str, str]]] = [[] for _ in sites]
    gates: dict[str, threading.Event] = {}
    for n, (outlet, group, variant, minutes) in enumerate(COPIES):
        title, paras = split(groups[group][variant])
        when = NOW - timedelta(minutes=minutes)
        page = article_page(title, paras, published=when.isoformat())
        if n in hold:
            gates[path(n)] = threading.Event()
            sites[outlet].add(path(n), gated(page, gates[path(n)]))
        else:
            sites[outlet].add(path(n), page)
        items[outlet].append(
            {"title": title, "link": sites[outlet].url(path(n)), "pubDate": format_datetime(when)}
        )
    outlets = feed_outlets(sites, items)
    cfg = write_config(
        tmp_path / "cfg",
        outlets,
        subscribers=[
            {"name": "desk", "urls": [smtp.url("desk@example.org")], "breaking": RULE},
            {
                "name": "evening",
                "urls": [smtp.url("evening@example.org")],
                "digest": "daily 18:00",
                "breaking": RULE,
            },
            {"name": "quiet", "urls": [smtp.url("quiet@example.org")]},  # no breaking rule
        ],
    )
    return Burst(sites, cfg, gates)


def breaking(smtp: SMTPSink, to: str | None = None) -> list[EmailMessage]:
    return [
        m
        for m in smtp.messages
        if "Breaking:" in str(m["subject"]) and (to is None or to in str(m["to"]))
    ]


def alerts(cfg: Path, kind: str) -> list[tuple]:
    with sqlite3.connect(cfg / "bw.db") as conn:
        return conn.execute(
            "SELECT subscriber, story_id, status FROM alerts WHERE kind = ? ORDER BY subscriber",
            (kind,),
        ).fetchall()


def check_the_alert(burst: Burst, smtp: SMTPSink) -> None:
    """One breaking alert per subscriber with a rule, naming all five outlets of the story."""
    assert len(breaking(smtp, "desk@")) == 1
    assert len(breaking(smtp, "evening@")) == 1  # a digest subscriber hears it at once
    assert breaking(smtp, "quiet@") == []
    assert [(s, st) for s, _, st in alerts(burst.cfg, "breaking")] == [
        ("desk", "sent"),
        ("evening", "sent"),
    ]
    message = breaking(smtp, "desk@")[0]
    spreading_title = split(load_groups()[SPREADING]["original"])[0]
    assert spreading_title in message["subject"] and "— 5 outlets" in message["subject"]
    text = message.get_body(("plain",)).get_content()
    # The plain part apprise derives from the HTML: each outlet on a line, its link on the next.
    lines = text.splitlines()
    listed = [(line, lines[i + 1]) for i, line in enumerate(lines) if line.startswith("- ")]
    assert [line.split(" · ")[1] for line, _ in listed] == [
        "Outlet 0 (+1 more copy)",
        "Outlet 1",
        "Outlet 2",
        "Outlet 3",
        "Outlet 4",
    ]
    assert [url for _, url in listed] == [burst.url(n) for n in (0, 2, 3, 4, 5)]
    # the window that tipped it: outlets 0 to 3, from 50 to 21 minutes ago
    assert "5 outlets carry this story; 4 of them within 29 min" in text
    # Nothing for the story at three outlets.
    local_title = split(load_groups()[LOCAL]["original"])[0]
    assert not any(local_title in str(m["subject"]) for m in breaking(smtp))


def test_a_story_at_five_outlets_alerts_once_one_at_three_never(
    tmp_path: Path, make_site: Callable[[str], FixtureSite], smtp: SMTPSink
) -> None:
    burst = build(tmp_path, make_site, smtp)
    done = crawl(burst.cfg)
    assert done.returncode == 0, done.stderr[-3000:]
    check_the_alert(burst, smtp)
    # The per-story alerts are unchanged: the desk heard of both stories once each.
    desk = [m for m in smtp.messages if "desk@" in str(m["to"])]
    assert len(desk) == 3
    assert len(alerts(burst.cfg, "instant")) == 2 * 2  # desk and quiet, two stories each
    received = breaking(smtp, "desk@")[0]  # shown with -s: the alert as a reader gets it
    print("\n".join(["", *(f"{h}: {received[h]}" for h in ("From", "To", "Subject")), ""]))
    print(received.get_body(("plain",)).get_content())
    check_story_command(burst)


def check_story_command(burst: Burst) -> None:
    """`balkanwatch story` shows the timeline: by a copy's URL, and by id as JSON."""
    env = {**os.environ, "BALKANWATCH_CONFIG": str(burst.cfg)}
    shown = cli("story", burst.url(4) + "?utm_source=x", env=env)  # not canonical: unknown
    assert shown.returncode == 1 and "no stored article" in shown.stderr
    shown = cli("story", burst.url(4), env=env)
    assert shown.returncode == 0, shown.stderr
    print(shown.stdout)
    assert "Carried by 5 outlets (6 copies)" in shown.stdout
    assert "Outlets reached: 2 after 8 min, 3 after 17 min, 4 after 29 min, 5 after 40 min" in (
        shown.stdout
    )
    ((story_id,),) = {(s,) for _, s, _ in alerts(burst.cfg, "breaking")}
    data = json.loads(cli("story", str(story_id), "--json", env=env).stdout)
    assert (data["story_id"], data["outlets"], data["copies"]) == (story_id, 5, 6)
    assert data["spread"]["4"] == 29 * 60
    assert [c["url"] for c in data["timeline"]] == [burst.url(n) for n in range(6)]
    assert [c["outlet_first"] for c in data["timeline"]] == [True, False, True, True, True, True]
    assert data["first_seen"]["time"] == (NOW - timedelta(minutes=50)).isoformat()


def test_a_later_copy_updates_the_feed_not_the_inbox(
    tmp_path: Path, make_site: Callable[[str], FixtureSite], smtp: SMTPSink
) -> None:
    burst = build(tmp_path, make_site, smtp)
    assert crawl(burst.cfg).returncode == 0
    received = len(smtp.messages)
    # A sixth outlet runs the story an hour later.
    late = burst.sites[5]
    title, paras = split(load_groups()[SPREADING]["wire_d"])
    late.add("/late", article_page(title, paras, published=NOW.isoformat()))
    late.add("/feed/", rss([{"title": title, "link": late.url("/late")}]))
    assert crawl(burst.cfg).returncode == 0
    assert len(smtp.messages) == received
    assert len(alerts(burst.cfg, "breaking")) == 2
    cfg = load_config(burst.cfg, env={})
    store = Store(cfg.database)
    try:
        (feed_path,) = write_topic_feeds(store, cfg, tmp_path / "feeds", NOW)
    finally:
        store.close()
    feed = feedparser.parse(feed_path.read_bytes())
    spreading = {burst.url(n) for n, c in enumerate(COPIES) if c[1] == SPREADING}
    (entry,) = [e for e in feed.entries if e.link in spreading]  # one entry for the story
    assert "Carried by 6 outlets:" in entry.content[0].value
    assert late.url("/late") in entry.content[0].value
    assert entry.updated_parsed > entry.published_parsed  # the late copy updated it


def stored(cfg: Path, urls: list[str]) -> int:
    if not (cfg / "bw.db").exists():
        return 0
    with sqlite3.connect(cfg / "bw.db") as conn:
        marks = ",".join("?" * len(urls))
        try:
            return int(
                conn.execute(
                    f"SELECT count(*) FROM articles WHERE url IN ({marks})", urls
                ).fetchone()[0]
            )
        except sqlite3.OperationalError:  # the schema is being created
            return 0


# When the crawl is killed: before the story tipped (three of its outlets stored, the others
# held back), or after its breaking alerts were queued and before they were sent (its fifth
# outlet's copy and the local story's last page held back, so the crawl cannot end and
# deliver; the next crawl stores that copy and checks the rule again).
MOMENTS = {
    "before-tipping": ((4, 5), lambda b: stored(b.cfg, [b.url(0), b.url(2), b.url(3)]) == 3),
    "queued-not-sent": (
        (5, 8),
        lambda b: count(b.cfg, "SELECT count(*) FROM alerts WHERE kind = 'breaking'") == 2,
    ),
}


@pytest.mark.parametrize("moment", list(MOMENTS))
def test_killed_crawl_then_a_new_one_alerts_exactly_once(
    tmp_path: Path, make_site: Callable[[str], FixtureSite], smtp: SMTPSink, moment: str
) -> None:
    hold, reached = MOMENTS[moment]
    burst = build(tmp_path, make_site, smtp, hold=hold)
    proc = start_crawl(burst.cfg)
    try:
        wait_for(lambda: reached(burst), 90, moment)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    assert breaking(smtp) == []  # nothing was sent before the kill
    if moment == "before-tipping":
        assert alerts(burst.cfg, "breaking") == []
    else:
        assert {st for _, _, st in alerts(burst.cfg, "breaking")} == {"pending"}
    for gate in burst.gates.values():
        gate.set()
    again = crawl(burst.cfg)
    assert again.returncode == 0, again.stderr[-3000:]
    check_the_alert(burst, smtp)
    # A third run finds nothing new and sends nothing.
    before = len(smtp.messages)
    assert crawl(burst.cfg).returncode == 0
    assert len(smtp.messages) == before
