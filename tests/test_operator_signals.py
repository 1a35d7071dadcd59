"""What an operator sees (issue 15, parts 2, 5 and 6): settings.yaml's user agent and log level
reach Scrapy, exit codes, unknown outlet names, per-outlet reasons and the first-contact summary,
and a crawl stopped by SIGINT or SIGTERM records its unfinished outlets as interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from balkanwatch.app.report import outlet_health
from balkanwatch.storage.store import Store
from crawler.runs import cycle_summary, short_reason
from tests.support import FAST, ROOT, FixtureSite, cli, crawl, free_port, write_config
from tests.test_daemon import wait_for
from tests.test_isolation import crawls, healthy, slow

UA = "balkanwatch-ua-check/2.0 (+mailto:desk@example.net)"


@pytest.fixture
def site(make_site: Callable[[str], FixtureSite]) -> FixtureSite:
    return make_site("127.0.0.9")


def user_agents(site: FixtureSite) -> set[str]:
    return {h.get("user-agent", "") for _, _, h in site.log}


def test_user_agent_and_log_level_reach_scrapy_crawl(tmp_path: Path, site: FixtureSite) -> None:
    cfg = write_config(
        tmp_path / "cfg",
        [healthy(site, "alpha")],
        settings={"user_agent": UA, "log_level": "WARNING"},
    )
    done = crawl(cfg)
    assert done.returncode == 0, done.stderr[-3000:]
    assert user_agents(site) == {UA}  # robots.txt, feed and articles alike
    assert " INFO: " not in done.stderr and " DEBUG: " not in done.stderr, done.stderr[:2000]
    # -s on the command line still wins over settings.yaml.
    site.log.clear()
    done = crawl(cfg, "-s", "USER_AGENT=override/1", "-s", "LOG_LEVEL=INFO")
    assert user_agents(site) == {"override/1"}
    assert " INFO: " in done.stderr


def test_user_agent_and_log_level_reach_the_daemons_children(
    tmp_path: Path, site: FixtureSite
) -> None:
    cfg = write_config(
        tmp_path / "cfg",
        [healthy(site, "alpha")],
        settings={"user_agent": UA, "log_level": "WARNING"},
    )
    done = subprocess.run(
        [sys.executable, "scheduler.py", "--once", *FAST],
        cwd=ROOT,
        env={**os.environ, "BALKANWATCH_CONFIG": str(cfg)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert user_agents(site) == {UA}
    assert " INFO " not in done.stderr, done.stderr[:2000]


def test_every_outlet_failing_exits_1_with_reasons_and_a_summary(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    outlets = [
        {
            "name": n,
            "homepage": f"http://127.0.0.{i}:{port}/",
            "feeds": [f"http://127.0.0.{i}:{port}/f"],
        }
        for i, n in ((10, "koha"), (11, "telegrafi"))
    ]
    cfg = write_config(tmp_path / "cfg", outlets)
    done = crawl(cfg)
    assert done.returncode == 1, done.stderr[-2000:]
    assert "crawl-result koha status=error" in done.stderr
    done = subprocess.run(
        [sys.executable, "scheduler.py", "--once", *FAST],
        cwd=ROOT,
        env={**os.environ, "BALKANWATCH_CONFIG": str(cfg)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr[-2000:]
    out = done.stderr
    assert "crawl-result koha status=error" in out and "error: connection refused" in out
    assert "2 outlets: 0 ok, 2 failed (2 refused): check the network or proxy settings" in out


def test_summary_and_reasons_read_as_an_operator_needs() -> None:
    dns = {
        "status": "error",
        "new_articles": 0,
        "error": "https://www.koha.net/feed/: DNS lookup failed for www.koha.net",
    }
    assert short_reason(dns["error"]) == "DNS lookup failed for www.koha.net"
    assert (
        cycle_summary([dns] * 41)
        == "41 outlets: 0 ok, 41 failed (41 DNS): check the network or proxy settings"
    )
    ok = {"status": "ok", "new_articles": 12, "error": None}
    assert cycle_summary([ok, ok, dns]) == "3 outlets: 2 ok, 1 failed (1 DNS); 24 new articles"


def test_unknown_outlet_names_one_line_exit_2(tmp_path: Path, site: FixtureSite) -> None:
    cfg = write_config(tmp_path / "cfg", [healthy(site, "alpha"), healthy(site, "beta")])
    done = crawl(cfg, "-a", "outlets=alpha,nosuch")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "balkanwatch: unknown outlet(s) in -a outlets=: nosuch (valid: alpha, beta)"
    )
    assert "Traceback" not in done.stderr and site.log == []


def test_check_config_warns_about_the_example_contact(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "cfg", [], settings={"user_agent": "balkanwatch/0.1"})
    env = {**os.environ, "BALKANWATCH_CONFIG": str(cfg)}
    assert "example contact" not in cli("check-config", env=env).stderr
    (cfg / "settings.yaml").write_text(f"database: {cfg / 'bw.db'}\n", "utf-8")  # the default
    done = cli("check-config", env=env)
    assert done.returncode == 0
    assert "user_agent still carries the example contact" in done.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_mid_crawl_records_unfinished_outlets_as_interrupted(
    tmp_path: Path, make_site: Callable[[str], FixtureSite], sig: int
) -> None:
    fast, dripping = make_site("127.0.0.12"), make_site("127.0.0.13")
    cfg = write_config(
        tmp_path / "cfg",
        [healthy(fast, "alpha"), slow(dripping)],
        settings={"outlet_timeout": "100s", "failure_threshold": 1},
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "scrapy", "crawl", "outlets", *FAST, "-s", "DOWNLOAD_TIMEOUT=100"],
        cwd=ROOT,
        env={**os.environ, "BALKANWATCH_CONFIG": str(cfg)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: len(crawls(cfg, "alpha")) == 1, 60, "alpha's record")
        started = time.monotonic()
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        took = time.monotonic() - started
    finally:
        proc.kill()
    print(f"\n{signal.Signals(sig).name} to exit, a download in flight: {took:.2f} s")
    assert took < 10, err[-2000:]
    assert proc.returncode == 0, err[-2000:]  # alpha was crawled
    (alpha,) = crawls(cfg, "alpha")
    assert (alpha["status"], alpha["new_articles"]) == ("ok", 2)
    (cut,) = crawls(cfg, "slow")
    assert cut["status"] == "interrupted" and "stored 0 new of 0 found" in cut["error"]
    health = outlet_health(Store(cfg / "bw.db"), "slow")
    assert health["consecutive_failures"] == 0  # an interruption is no failure
