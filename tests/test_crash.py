"""Crash safety: kill -9 of the daemon and its children at several moments, then a restart.

Nothing stored is lost, nothing is alerted twice, and the database passes `PRAGMA integrity_check`.
The whole process group is killed, as a power cut or the OOM killer would.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import FAST, ROOT, FixtureSite, SMTPSink, article_page, rss, write_config
from tests.test_daemon import count, wait_for

N = 6


@pytest.fixture
def site() -> Iterator[FixtureSite]:
    s = FixtureSite("127.0.0.5")
    items = []
    for i in range(N):
        path = f"/2026/12/01/story-{i}"
        # Each story distinct (no dedup between them), each mentioning Kosovo.
        paras = [
            f"Story {i}: the Kosovo assembly debated bill number {i * 37 + 11} on "
            f"{['roads', 'schools', 'energy', 'water', 'courts', 'health'][i]} today, "
            f"and deputies from {i + 2} parties spoke about district {i * 13}."
        ] * 3
        s.add(path, article_page(f"Kosovo story {i}", paras), delay=0.4)
        items.append({"title": f"Kosovo story {i}", "link": s.url(path)})
    s.add("/feed/", rss(items), content_type="application/rss+xml", etag='"v1"')
    yield s
    s.close()


def start(cfg: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "scheduler.py", "--once", *FAST, "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1"],
        cwd=ROOT,
        env={**os.environ, "BALKANWATCH_CONFIG": str(cfg)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def kill_all(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def check_final_state(cfg: Path, smtp: SMTPSink) -> None:
    with sqlite3.connect(cfg / "bw.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == N
        alerts = conn.execute("SELECT status, count(*) FROM alerts GROUP BY status").fetchall()
    assert alerts == [("sent", N)]
    subjects = Counter(m["subject"] for m in smtp.messages)
    assert len(subjects) == N and set(subjects.values()) == {1}, subjects


@pytest.mark.parametrize("moment", ["mid-crawl", "mid-delivery"])
def test_kill_9_then_restart_loses_nothing_and_repeats_nothing(
    tmp_path: Path, site: FixtureSite, moment: str
) -> None:
    smtp = SMTPSink(delay=1.0)
    try:
        cfg = write_config(
            tmp_path / "cfg",
            [{"name": "fixture", "homepage": site.url("/"), "feeds": [site.url("/feed/")]}],
            subscribers=[{"name": "desk", "urls": [smtp.url()]}],
        )
        proc = start(cfg)
        if moment == "mid-crawl":
            wait_for(lambda: count(cfg, "SELECT count(*) FROM articles") >= 2, 60, "2 articles")
        else:
            wait_for(
                lambda: len(smtp.messages) >= 2 and smtp.receiving.is_set(),
                90,
                "the third e-mail in flight",
            )
        kill_all(proc)
        stored_before = count(cfg, "SELECT count(*) FROM articles")
        assert 0 < stored_before <= N

        again = start(cfg)
        assert again.wait(timeout=120) == 0
        check_final_state(cfg, smtp)
    finally:
        smtp.stop()
