"""`balkanwatch discover`: stdin mode on a saved homepage, network mode on a loopback site."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import yaml

from balkanwatch.core.config import Outlet
from tests.support import FixtureSite, cli, rss

HOMEPAGES = Path(__file__).resolve().parent / "fixtures" / "homepages"


def findings(stdout: str) -> list[dict[str, str]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def entry(stdout: str) -> dict:
    return yaml.safe_load(stdout.split("# outlets.yaml entry", 1)[1])[0]


def test_stdin_mode_reads_the_page_alone(tmp_path: Path) -> None:
    env = {**os.environ, "BALKANWATCH_CONFIG": str(tmp_path / "none")}
    html = (HOMEPAGES / "koha.net.html").read_bytes()
    done = cli("discover", "--url", "https://www.koha.net/", "--yaml", env=env, stdin=html)
    assert done.returncode == 0, done.stderr
    found = findings(done.stdout)
    articles = {f["url"] for f in found if f["kind"] == "article"}
    gold = set(json.loads((HOMEPAGES / "koha.net.labels.json").read_text())["articles"])
    assert len(articles & gold) / len(articles) >= 0.95 and articles >= gold
    assert all(f["evidence"] for f in found)
    outlet = Outlet.model_validate(entry(done.stdout))  # the entry is valid configuration
    assert outlet.name == "koha" and outlet.language == "sq" and outlet.article_pattern
    assert all(re.search(outlet.article_pattern, url) for url in gold)
    assert not re.search(outlet.article_pattern, "https://www.koha.net/lajme/")
    assert "requests" not in done.stderr  # nothing was fetched


def test_network_mode_follows_robots_sitemaps_and_feeds(
    make_site: Callable[[str], FixtureSite], tmp_path: Path
) -> None:
    site = make_site("127.0.0.1")
    base = site.base
    site.add(
        "/robots.txt",
        f"User-agent: *\nDisallow: /private/\nSitemap: {base}/sitemap_index.xml\n",
        content_type="text/plain",
    )
    headlines = [
        "vlada-usvojila-budzet-za-iducu-godinu",
        "poplave-odnijele-most-kod-maglaja",
        "zmajevi-pobijedili-u-zenici-pred-punim-stadionom",
        "cijene-goriva-ponovo-rastu-od-ponedjeljka",
        "uhapsen-bivsi-gradonacelnik-zbog-korupcije",
        "novi-most-preko-miljacke-otvoren-za-promet",
        "studenti-protestuju-zbog-visokih-stanarina",
        "zemljotres-jacine-cetiri-stepena-pogodio-hercegovinu",
    ]
    stories = [f"/vijesti/bih/{slug}/{240517000 + n}" for n, slug in enumerate(headlines)]
    links = "".join(
        f'<div class="card"><a href="{p}">{slug.replace("-", " ").capitalize()}</a></div>'
        for p, slug in zip(stories, headlines, strict=True)
    )
    site.add(
        "/",
        f"""<html lang="bs"><head><title>Loopback vijesti - najnovije</title>
        <link rel="alternate" type="application/rss+xml" href="/rss"></head><body>
        <nav><a href="/vijesti">Vijesti</a><a href="/sport">Sport</a><a href="/tag/bih">BiH</a>
        <a href="/private/stats">x</a></nav>{links}</body></html>""",
    )
    site.add(
        "/rss",
        rss([{"title": "T", "link": base + p} for p in stories[:4]]),
        content_type="application/rss+xml",
    )
    site.add(
        "/sitemap_index.xml",
        f"""<?xml version="1.0" encoding="UTF-8"?>
        <sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
        <sitemap><loc>{base}/sitemap-archive-2023.xml</loc><lastmod>2023-12-31</lastmod></sitemap>
        <sitemap><loc>{base}/news-sitemap.xml</loc><lastmod>2024-05-17</lastmod></sitemap>
        <sitemap><loc>{base}/private/sitemap.xml</loc></sitemap>
        </sitemapindex>""",
        content_type="application/xml",
    )
    news = "".join(
        f"<url><loc>{base}{p}</loc><news:news><news:publication><news:name>L</news:name>"
        f"<news:language>bs</news:language></news:publication><news:publication_date>2024-05-17"
        f"</news:publication_date><news:title>T</news:title></news:news></url>"
        for p in stories[4:]
    )
    site.add(
        "/news-sitemap.xml",
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        f'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">{news}</urlset>',
        content_type="application/xml",
    )
    site.add(
        "/sitemap-archive-2023.xml",
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{base}/vijesti/bih/stara-prica-iz-arhive-godine/230101001</loc></url></urlset>",
        content_type="application/xml",
    )
    env = {**os.environ, "BALKANWATCH_CONFIG": str(tmp_path / "none")}
    done = cli("discover", "--url", base + "/", "--yaml", env=env)
    assert done.returncode == 0, done.stderr
    found = findings(done.stdout)
    kinds = {(f["kind"], f["url"]) for f in found}
    assert ("feed", base + "/rss") in kinds
    assert ("sitemap", base + "/sitemap_index.xml") in kinds
    assert ("sitemap", base + "/news-sitemap.xml") in kinds
    news_line = next(f for f in found if f["url"] == base + "/news-sitemap.xml")
    assert "news sitemap of 4 URLs" in news_line["evidence"]
    assert {f["url"] for f in found if f["kind"] == "article"} == {base + p for p in stories}
    # robots.txt obeyed, the configured (default) user agent sent, each URL fetched once
    paths = [p for _, p, _ in site.log]
    assert "/private/sitemap.xml" not in paths and "/private/stats" not in paths
    assert sorted(paths) == sorted(
        [
            "/robots.txt",
            "/",
            "/rss",
            "/sitemap_index.xml",
            "/news-sitemap.xml",
            "/sitemap-archive-2023.xml",
        ]
    )
    assert all(h.get("user-agent", "").startswith("balkanwatch/") for _, _, h in site.log)
    assert f"discover: {len(paths)} requests, 1 refused by robots.txt" in done.stderr
    outlet = Outlet.model_validate(entry(done.stdout))
    assert outlet.feeds == [base + "/rss"] and outlet.sitemaps == [base + "/sitemap_index.xml"]
    assert outlet.language == "bs" and outlet.title == "Loopback vijesti"
    # every example was under /vijesti/: other sections of it match, /sport/ (never seen) not
    assert re.search(outlet.article_pattern, base + "/vijesti/regija/novi-trener-stigao/240518001")
    assert not re.search(outlet.article_pattern, base + "/sport/novi-trener-stigao/240518001")
    assert not re.search(outlet.article_pattern, base + "/vijesti")


def test_homepage_that_fails_is_a_clear_error(
    make_site: Callable[[str], FixtureSite], tmp_path: Path
) -> None:
    site = make_site("127.0.0.1")
    env = {**os.environ, "BALKANWATCH_CONFIG": str(tmp_path / "none")}
    done = cli("discover", "--url", site.url("/missing/"), env=env)
    assert done.returncode == 1 and "answered 404" in done.stderr
