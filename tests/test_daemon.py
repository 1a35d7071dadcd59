"""The daemon as a real subprocess: `--once`, scheduled crawls, a new article mid-run, SIGTERM."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import FAST, ROOT, FixtureSite, SMTPSink, article_page, rss, write_config

KOSOVO = [
    "Kosovo's government and KFOR agreed on new patrol routes in the north of the country, "
    "officials in Pristina said on Tuesday after a meeting with NATO commanders."
] * 3


@pytest.fixture
def site(make_site: Callable[[str], FixtureSite]) -> FixtureSite:
    return make_site("127.0.0.4")


def daemon(cfg: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "scheduler.py", *args, *FAST],
        cwd=ROOT,
        env={**os.environ, "BALKANWATCH_CONFIG": str(cfg)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll a condition (the daemon is another process: there is no event to wait on)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def count(cfg: Path, sql: str) -> int:
    try:
        with sqlite3.connect(cfg / "bw.db") as conn:
            return int(conn.execute(sql).fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0


def setup(tmp_path: Path, site: FixtureSite, smtp: SMTPSink, interval: str = "1h") -> Path:
    items: list[dict[str, str]] = []

    def feed() -> bytes:
        return rss(items).encode()

    site.add("/feed/", feed, content_type="application/rss+xml")
    site.items = items  # type: ignore[attr-defined]
    return write_config(
        tmp_path / "cfg",
        [
            {
                "name": "fixture",
                "title": "Fixture",
                "homepage": site.url("/"),
                "feeds": [site.url("/feed/")],
                "interval": interval,
            }
        ],
        subscribers=[{"name": "desk", "urls": [smtp.url()]}],
    )


def publish(site: FixtureSite, slug: str, title: str) -> None:
    site.add(f"/2026/12/01/{slug}", article_page(title, KOSOVO))
    site.items.append({"title": title, "link": site.url(f"/2026/12/01/{slug}")})  # type: ignore[attr-defined]


def test_once_runs_one_cycle_and_exits(tmp_path: Path, site: FixtureSite, smtp: SMTPSink) -> None:
    cfg = setup(tmp_path, site, smtp)
    publish(site, "patrols", "KFOR and Kosovo police agree patrol routes")
    proc = daemon(cfg, "--once")
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out[-3000:]
    assert count(cfg, "SELECT count(*) FROM articles") == 1
    assert len(smtp.messages) == 1
    assert "crawl-result fixture status=ok" in out


def test_new_article_alerts_within_two_intervals_and_sigterm_stops(
    tmp_path: Path, site: FixtureSite, smtp: SMTPSink
) -> None:
    interval = 4.0
    cfg = setup(tmp_path, site, smtp, interval=f"{interval:g}s")
    proc = daemon(cfg)
    try:
        wait_for(lambda: count(cfg, "SELECT count(*) FROM crawls") >= 1, 60, "a first crawl")
        publish(site, "mid-run", "New KFOR commander arrives in Kosovo")
        # Delivery runs every 30 s in production; the child crawl delivers at its end too. The
        # bound is generous: a child crawl takes several seconds to start on a busy 2-core machine.
        wait_for(lambda: len(smtp.messages) == 1, 2 * interval + 50, "the alert")
        assert "New KFOR commander" in smtp.messages[0]["subject"]
        wait_for(lambda: count(cfg, "SELECT count(*) FROM crawls") >= 3, 60, "more crawls")
        assert len(smtp.messages) == 1  # later crawls of the same feed alert nothing new
    finally:
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        stop_time = time.monotonic() - started
    assert proc.returncode == 0, out[-3000:]
    assert stop_time < 15
    assert "Stopped" in out


def test_failing_outlet_alerts_operators_once_then_on_recovery(
    tmp_path: Path, site: FixtureSite, smtp: SMTPSink
) -> None:
    site.add("/feed/", "server error", status=503, content_type="text/plain")
    cfg = write_config(
        tmp_path / "cfg",
        [
            {
                "name": "flaky",
                "homepage": site.url("/"),
                "feeds": [site.url("/feed/")],
                "interval": "2s",
            }
        ],
        subscribers=[{"name": "ops", "urls": [smtp.url("ops@example.org")]}],
        settings={"operators": ["ops"], "failure_threshold": 2},
    )
    proc = daemon(cfg)
    try:
        wait_for(lambda: len(smtp.messages) == 1, 60, "the failure alert")
        assert "flaky is failing" in smtp.messages[0]["subject"]
        assert "503" in smtp.messages[0].get_body(("plain",)).get_content()
        failed = count(cfg, "SELECT count(*) FROM crawls WHERE status = 'error'")
        wait_for(
            lambda: count(cfg, "SELECT count(*) FROM crawls") >= failed + 2,
            60,
            "more failed crawls",
        )
        assert len(smtp.messages) == 1  # still failing: no repeat
        site.add("/feed/", rss([]), content_type="application/rss+xml")
        wait_for(lambda: len(smtp.messages) == 2, 60, "the recovery alert")
        assert "flaky recovered" in smtp.messages[1]["subject"]
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out[-2000:]
    assert "flaky is failing" in out and "recovered" in out  # logged as warnings too
