"""Crash safety: kill -9 of the daemon at several moments, then a restart.

Nothing stored is lost, nothing is alerted twice, and the database passes `PRAGMA integrity_check`.
The daemon's process group is killed, as the OOM killer or `kill -9` would; its child crawls (in
sessions of their own) must end with it, or they would crawl and deliver beside the restart.
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


def start(cfg: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            *(sys.executable, "scheduler.py", "--once", *FAST),
            *("-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1", *args),
        ],
        cwd=ROOT,
        env={**os.environ, "BALKANWATCH_CONFIG": str(cfg)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _stat(path: Path) -> list[str] | None:
    """State, parent pid, ... of a process; None once it has ended (or is a zombie)."""
    try:
        fields = path.read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] == "Z" else fields


def descendants(pid: int) -> set[int]:
    """Every live process below `pid`, from /proc (Linux)."""
    parents = {
        int(p.parent.name): int(fields[1])
        for p in Path("/proc").glob("[0-9]*/stat")
        if (fields := _stat(p))
    }
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def gone(pids: set[int]) -> bool:
    return all(_stat(Path(f"/proc/{p}/stat")) is None for p in pids)


def kill_all(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the daemon's group; every process it started must end within seconds."""
    below = descendants(proc.pid)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    wait_for(lambda: gone(below), 20, f"the daemon's children {sorted(below)} to end with it")


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


def test_a_crawl_ends_with_the_daemon_that_started_it(tmp_path: Path) -> None:
    """The child crawl runs in a session of its own; killed alone, the daemon must not leave it
    crawling (and holding leases) beside the next daemon. Its page takes a minute to come, and
    it logs only errors: no write to the dead daemon's pipe ends it by chance."""
    slow = FixtureSite("127.0.0.5")
    slow.add("/2026/12/01/slow", article_page("Kosovo slow", ["Kosovo text. " * 20]), delay=60)
    items = [{"title": "Kosovo slow", "link": slow.url("/2026/12/01/slow")}]
    slow.add("/feed/", rss(items), content_type="application/rss+xml")
    try:
        cfg = write_config(
            tmp_path / "cfg",
            [{"name": "fixture", "homepage": slow.url("/"), "feeds": [slow.url("/feed/")]}],
        )
        proc = start(cfg, "-s", "LOG_LEVEL=ERROR", "-s", "DOWNLOAD_TIMEOUT=90")
        wait_for(lambda: slow.requests("/2026/12/01/slow"), 60, "the slow page's request")
        below = descendants(proc.pid)
        assert below, "the daemon runs its crawl in a child"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        wait_for(lambda: gone(below), 10, "the crawl to end with its daemon")
    finally:
        slow.close()
