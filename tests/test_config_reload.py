"""One configuration per process, handed down (issue 14, part 6).

The daemon runs on a validated snapshot of the configuration and gives it to its children; SIGHUP
reloads it (a broken file keeps the running one, with one line naming the error). A subscriber
and a topic added while the daemon runs get their alerts. An outlet's `article_pattern` filters
the links of its feeds too.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import yaml

from tests.support import FixtureSite, SMTPSink, article_page, crawl, rss, write_config
from tests.test_daemon import wait_for
from tests.test_isolation import Daemon

KOSOVO = "KFOR and Kosovo police agree new patrol routes in the north, officials in Pristina said."
GAS = "The gas pipeline from Azerbaijan reached the Serbian border, the energy ministry said."


def publish(
    site: FixtureSite, items: list[dict[str, str]], slug: str, title: str, text: str
) -> None:
    site.add(
        f"/2026/12/01/{slug}", article_page(title, [f"{text} ({slug}, part {i})" for i in range(3)])
    )
    items.append({"title": title, "link": site.url(f"/2026/12/01/{slug}")})


def recipients(smtp: SMTPSink) -> list[str]:
    return [str(m["To"]) for m in smtp.messages]


def test_sighup_reloads_and_a_new_subscriber_and_topic_get_their_alerts(
    tmp_path: Path, make_site: Callable[[str], FixtureSite], smtp: SMTPSink
) -> None:
    site = make_site("127.0.0.14")
    items: list[dict[str, str]] = []
    site.add("/feed/", lambda: rss(items).encode(), content_type="application/rss+xml")
    publish(site, items, "patrols", "KFOR patrols in the north", KOSOVO)
    cfg = write_config(
        tmp_path / "cfg",
        [
            {
                "name": "fixture",
                "homepage": site.url("/"),
                "feeds": [site.url("/feed/")],
                "interval": "4s",
            }
        ],
        subscribers=[{"name": "desk", "urls": [smtp.url("desk@example.org")]}],
    )
    daemon = Daemon(cfg)
    try:
        wait_for(lambda: recipients(smtp) == ["desk@example.org"], 90, "the first alert")

        # A broken file: the running configuration stays, one line names the error.
        settings = (cfg / "settings.yaml").read_text("utf-8")
        (cfg / "settings.yaml").write_text(settings + "interval: often\n", "utf-8")
        daemon.proc.send_signal(signal.SIGHUP)
        daemon.wait_line("Configuration not reloaded", 30)
        (line,) = [ln for ln in daemon.lines if "Configuration not reloaded" in ln]
        assert "settings.yaml" in line and "interval" in line
        (cfg / "settings.yaml").write_text(settings, "utf-8")

        # A topic and a subscriber for it, added while the daemon runs.
        topics = yaml.safe_load((cfg / "topics.yaml").read_text("utf-8"))
        topics["topics"].append({"name": "energy", "keywords": ["gas pipeline"]})
        (cfg / "topics.yaml").write_text(yaml.safe_dump(topics), "utf-8")
        subs = yaml.safe_load((cfg / "subscribers.yaml").read_text("utf-8"))
        subs["subscribers"].append(
            {"name": "energy-desk", "urls": [smtp.url("energy@example.org")], "topics": ["energy"]}
        )
        (cfg / "subscribers.yaml").write_text(yaml.safe_dump(subs), "utf-8")
        daemon.proc.send_signal(signal.SIGHUP)
        daemon.wait_line("Configuration reloaded", 30)

        publish(site, items, "pipeline", "Gas pipeline reaches the border", GAS)
        wait_for(lambda: len(smtp.messages) == 3, 90, "the new topic's alerts")
        assert sorted(recipients(smtp)[1:]) == ["desk@example.org", "energy@example.org"]
        code, _ = daemon.stop(signal.SIGTERM)
    finally:
        daemon.kill()
    out = daemon.output()
    assert code == 0, out[-3000:]
    assert "no longer configured" not in out  # no alert given up for a subscriber it missed


def test_article_pattern_filters_feed_links(
    tmp_path: Path, make_site: Callable[[str], FixtureSite]
) -> None:
    site = make_site("127.0.0.15")
    items: list[dict[str, str]] = []
    publish(site, items, "news-kfor", "KFOR patrols", KOSOVO)
    site.add("/video/clip", article_page("A video page", [KOSOVO] * 3))
    items.append({"title": "A video page", "link": site.url("/video/clip")})
    site.add("/feed/", rss(items), content_type="application/rss+xml")
    cfg = write_config(
        tmp_path / "cfg",
        [
            {
                "name": "fixture",
                "homepage": site.url("/"),
                "feeds": [site.url("/feed/")],
                "article_pattern": r"/\d{4}/\d{2}/\d{2}/",
            }
        ],
    )
    done = crawl(cfg)
    assert done.returncode == 0, done.stderr[-2000:]
    assert site.requests("/video/") == []
    assert site.requests("/2026/") == ["/2026/12/01/news-kfor"]
