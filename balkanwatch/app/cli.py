"""The `balkanwatch` command: configuration checks, extraction and matching for trying things out,
status and search of the archive, and test alerts."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from balkanwatch.app import search_cmd, web
from balkanwatch.core.config import EXAMPLE_CONTACT, Config, ConfigError, load_config
from balkanwatch.core.secrets import mask_secrets
from balkanwatch.storage.store import Store


def _config(need_secrets: bool = True) -> Config:
    return load_config(need_secrets=need_secrets)


def _archive(cfg: Config) -> Store:
    """The database, for commands that only read it: a missing one is an error, not created."""
    if isinstance(cfg.database, Path) and not cfg.database.exists():
        raise ConfigError(
            f"{cfg.database}: no database yet (the daemon or `scrapy crawl outlets` creates it)"
        )
    return Store(cfg.database)


def cmd_check_config(args: argparse.Namespace, out: TextIO) -> int:
    cfg = _config()
    s = cfg.settings
    enabled = [o for o in cfg.outlets if o.enabled]
    print(f"Configuration {cfg.directory}: OK", file=out)
    print(f"Database: {mask_secrets(str(cfg.database))}", file=out)
    print(f"Timezone: {s.timezone}; default interval: {_duration(s.interval)}", file=out)
    print(f"User agent: {s.user_agent}", file=out)
    if EXAMPLE_CONTACT in s.user_agent:
        print(
            f"warning: settings.yaml user_agent still carries the example contact"
            f" ({EXAMPLE_CONTACT}); outlets see it: put your own address there",
            file=sys.stderr,
        )
    print(f"\nOutlets: {len(cfg.outlets)} ({len(enabled)} enabled)", file=out)
    for o in cfg.outlets:
        sources = (
            f"{len(o.feeds)} feed(s), {len(o.sitemaps)} sitemap(s)"
            if o.feeds or o.sitemaps
            else "homepage discovery"
        )
        flag = "" if o.enabled else "  [disabled]"
        print(
            f"  {o.name:<22} {o.language or '--':<3} {o.country or '--':<9}"
            f" every {_duration(cfg.interval_of(o)):<5} {sources}{flag}",
            file=out,
        )
    _print_dead_sources(cfg, out)
    print(f"\nTopics: {len(cfg.topics)}", file=out)
    for t in cfg.topics:
        extra = "".join(
            f"; {label}: {', '.join(words)}"
            for label, words in (("require", t.require), ("exclude", t.exclude))
            if words
        )
        print(f"  {t.name:<22} {', '.join(t.keywords)}{extra}", file=out)
    print(f"\nSubscribers: {len(cfg.subscribers)}", file=out)
    if not cfg.subscribers:
        print("  (none: matches are logged, no alerts are sent)", file=out)
    for sub in cfg.subscribers:
        topics = ", ".join(sub.topics) if sub.topics is not None else "all topics"
        breaking = f"; breaking: {sub.breaking.describe()}" if sub.breaking else ""
        print(f"  {sub.name:<22} {topics}; {sub.digest or 'instant alerts'}{breaking}", file=out)
        for url in sub.urls:
            print(f"    {mask_secrets(url)}", file=out)
    return 0


def _print_dead_sources(cfg: Config, out: TextIO) -> None:
    """Configured sources the crawler found dead, if a database exists to say so."""
    from balkanwatch.app.report import dead_source_lines, dead_sources
    from balkanwatch.storage.engine import StorageError

    if isinstance(cfg.database, Path) and not cfg.database.exists():
        return
    try:
        store = Store(cfg.database)
    except StorageError as e:  # check-config checks the files; the database is `status`'s
        print(f"  (database not readable: {mask_secrets(str(e))})", file=out)
        return
    try:
        dead = dead_sources(cfg, store)
    finally:
        store.close()
    if dead:
        print("  Replaced sources (update outlets.yaml):", file=out)
        for line in dead_source_lines(dead, datetime.now(UTC)):
            print(f"  {line}", file=out)


def _jsonl(key: str, shape: str) -> Iterator[dict[str, Any]]:
    """The records of a JSON-lines stdin, each with `key`; a bad line is a clear error."""
    for n, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            rec[key]  # noqa: B018 - presence check
        except (json.JSONDecodeError, KeyError, TypeError, IndexError):
            raise ConfigError(f"stdin line {n}: expected {shape}") from None
        yield rec


def cmd_extract(args: argparse.Namespace, out: TextIO) -> int:
    from balkanwatch.analysis.extract import extract_article

    if args.jsonl:
        for rec in _jsonl("html", '{"url": ..., "html": ...}'):
            url = rec.get("url")
            ex = extract_article(rec["html"], url)
            row = {
                "url": url,
                "title": ex.title if ex else None,
                "text": ex.text if ex else None,
                "published": ex.published if ex else None,
                "language": ex.language if ex else None,
            }
            print(json.dumps(row, ensure_ascii=False), file=out)
        return 0
    ex = extract_article(sys.stdin.buffer.read(), args.url)
    if ex is None:
        print("no article text found", file=sys.stderr)
        return 1
    print(ex.text, file=out)
    return 0


def cmd_match(args: argparse.Namespace, out: TextIO) -> int:
    from balkanwatch.analysis.topics import TopicMatcher

    if args.archive:
        return cmd_match_archive(args, out)
    matcher = TopicMatcher(_config(need_secrets=False).topics)

    def found(text: str) -> list[dict[str, Any]]:
        title, _, body = text.partition("\n")
        return [
            {
                "name": m.name,
                "terms": list(m.terms),
                "keyword_of": m.keyword_of,
                "where": list(m.where),
                "snippet": m.snippet,
            }
            for m in matcher.match(title, body)
        ]

    if args.jsonl:
        for rec in _jsonl("text", '{"id": ..., "text": ...}'):
            text = rec["text"]
            topics = [{"name": t["name"], "terms": t["terms"]} for t in found(text)]
            print(json.dumps({"id": rec.get("id"), "topics": topics}, ensure_ascii=False), file=out)
        return 0
    topics = found(sys.stdin.read())
    print(json.dumps({"topics": topics}, ensure_ascii=False, indent=2), file=out)
    return 0


def cmd_match_archive(args: argparse.Namespace, out: TextIO) -> int:
    from balkanwatch.app import match_archive as ma

    cfg = _config(need_secrets=False)
    topics = ma.choose_topics(cfg.topics, args.topic)
    since = ma.parse_since(args.since, datetime.now(UTC))
    store = _archive(cfg)
    try:
        report = ma.match_archive(store, topics, since, args.sample)
    finally:
        store.close()
    if args.json:
        print(json.dumps(report.as_json(), ensure_ascii=False, indent=2), file=out)
    else:
        print(ma.format_report(report, cfg.settings.tz), file=out)
    return 0


def cmd_status(args: argparse.Namespace, out: TextIO) -> int:
    from balkanwatch.app.report import status_report

    cfg = _config(need_secrets=False)
    report = status_report(cfg, _archive(cfg))
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2), file=out)
        return 0
    from balkanwatch.app.report import format_status

    print(format_status(report, datetime.now(UTC)), file=out)
    return 0


def cmd_story(args: argparse.Namespace, out: TextIO) -> int:
    from balkanwatch.app.story_cmd import find_story, format_timeline, timeline_report

    cfg = _config(need_secrets=False)
    store = _archive(cfg)
    try:
        story = find_story(store, args.story)
        report = timeline_report(store.story_timeline(story), store.story_topics(story), cfg)
    finally:
        store.close()
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2), file=out)
    else:
        print(format_timeline(report, cfg.settings.tz), file=out)
    return 0


def cmd_test_alert(args: argparse.Namespace, out: TextIO) -> int:
    from balkanwatch.delivery.alerts import apprise_send, sample_message

    cfg = _config()
    try:
        sub = cfg.subscriber(args.subscriber)
    except KeyError:
        names = ", ".join(s.name for s in cfg.subscribers) or "none configured"
        raise ConfigError(
            f"unknown subscriber {args.subscriber!r} (subscribers: {names})"
        ) from None
    message = sample_message(cfg)
    failures = 0
    for url in sub.urls:
        error = asyncio.run(apprise_send(url, message))
        failures += error is not None
        print(
            f"{mask_secrets(url)}: {'delivered' if error is None else 'FAILED: ' + error}", file=out
        )
    return 1 if failures else 0


def cmd_discover(args: argparse.Namespace, out: TextIO) -> int:
    from balkanwatch.app.discover_cmd import run
    from balkanwatch.core.config import Settings

    try:
        user_agent = _config(need_secrets=False).settings.user_agent
    except ConfigError:  # discovering an outlet needs no configuration yet
        user_agent = Settings().user_agent
    html = None if sys.stdin is None or sys.stdin.isatty() else sys.stdin.buffer.read()
    html = html if html and html.strip() else None
    return run(args.url, args.example, args.yaml, html, user_agent, out, sys.stderr)


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="balkanwatch", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("check-config", help="validate the configuration and print a summary")
    ex = sub.add_parser("extract", help="print an article page's text (HTML on stdin)")
    ex.add_argument("--url", help="the page's URL (helps metadata extraction)")
    ex.add_argument("--jsonl", action="store_true", help='stdin lines {"url": ..., "html": ...}')
    m = sub.add_parser("match", help="print the topics a text (on stdin) matches")
    m.add_argument("--jsonl", action="store_true", help='stdin lines {"id": ..., "text": ...}')
    m.add_argument("--archive", action="store_true", help="run the topics over stored articles")
    m.add_argument("--since", default="7d", help="with --archive: 7d, 12h or all (default 7d)")
    m.add_argument("--topic", help="with --archive: this topic only")
    m.add_argument("--sample", type=int, default=5, help="with --archive: titles per topic")
    m.add_argument("--json", action="store_true", help="with --archive: JSON output")
    st = sub.add_parser("status", help="outlets' last crawls and the alert queue")
    st.add_argument("--json", action="store_true")
    search_cmd.register(sub)
    sy = sub.add_parser("story", help="a story's timeline: its outlets, times and URLs")
    sy.add_argument("story", help="the story's id, or the URL of one of its copies")
    sy.add_argument("--json", action="store_true")
    ta = sub.add_parser("test-alert", help="send a sample alert to a subscriber")
    ta.add_argument("subscriber")
    dc = sub.add_parser("discover", help="an outlet's feeds, sitemaps and article links")
    dc.add_argument("--url", required=True, help="the outlet's homepage")
    dc.add_argument("--example", action="append", default=[], help="an article URL (repeatable)")
    dc.add_argument("--yaml", action="store_true", help="end with an outlets.yaml entry")
    web.add_parser(sub)
    return p


COMMANDS = {
    "check-config": cmd_check_config,
    "extract": cmd_extract,
    "match": cmd_match,
    "status": cmd_status,
    "story": cmd_story,
    "test-alert": cmd_test_alert,
    "discover": cmd_discover,
    "web": web.cmd_web,
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("search", "stories"):  # their own parsers: -word is a query term
        return search_cmd.main(argv[0], argv[1:], sys.stdout)
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args, sys.stdout)
    except ConfigError as e:
        print(f"balkanwatch: {mask_secrets(str(e))}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
