"""`balkanwatch search` and `balkanwatch stories`: the archive as a reader asks it.

Both commands parse their own arguments: a malformed query or option is one line on stderr and
exit status 2, never a usage dump or a traceback; `-word` in a query excludes a word rather than
being taken for an option.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn, TextIO

from balkanwatch.analysis.query import QueryError, parse_moment, parse_query
from balkanwatch.core.config import Config, ConfigError, load_config
from balkanwatch.core.secrets import mask_secrets
from balkanwatch.core.times import parse_time
from balkanwatch.storage.search import MAX_LIMIT, SORTS, SearchHit, SearchQuery, StoryLine
from balkanwatch.storage.store import Store

USAGE = 2  # exit status of a malformed query or option, as argparse uses

SEARCH_HELP = "search stored articles: words in all their forms, either script"
STORIES_HELP = "the latest stories that matched a topic, one line each"
_SEARCH_EPILOG = """\
query: every word must appear, in any of its forms (kosovo finds Kosova, Kosovës, Косову,
kosovski); NATO in capitals is the acronym only; "two words" is a phrase (one argument with a
space is one too); -word excludes; word* is a prefix.
times: 24h, 7d, 90m back from now, a date (2026-12-01, your timezone) or an ISO time."""


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise QueryError(message)


def _limit(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if not 1 <= n <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_LIMIT}")
    return n


def search_parser() -> argparse.ArgumentParser:
    p = _OneLineParser(
        prog="balkanwatch search",
        description=SEARCH_HELP,
        epilog=_SEARCH_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("query", nargs="*", help='words, "phrases", -excluded, prefix*')
    p.add_argument("--outlet", action="append", default=[], help="only this outlet (repeatable)")
    p.add_argument("--topic", action="append", default=[], help="only articles that matched it")
    p.add_argument("--language", action="append", default=[], help="only this language (sq, sr)")
    p.add_argument("--since", help="from then on: 24h, 7d or a date")
    p.add_argument("--until", help="before then: 24h, 7d or a date (a date includes that day)")
    p.add_argument("--sort", choices=SORTS, default="newest", help="newest first (default)")
    p.add_argument("--limit", type=_limit, default=20, help=f"at most this many (1-{MAX_LIMIT})")
    p.add_argument("--json", action="store_true", help="JSON output")
    return p


def stories_parser() -> argparse.ArgumentParser:
    p = _OneLineParser(prog="balkanwatch stories", description=STORIES_HELP)
    p.add_argument("--topic", action="append", default=[], help="only this topic (repeatable)")
    p.add_argument("--since", help="stories from then on: 24h, 7d or a date")
    p.add_argument("--limit", type=_limit, default=20, help=f"at most this many (1-{MAX_LIMIT})")
    p.add_argument("--json", action="store_true", help="JSON output")
    return p


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """List the commands in `balkanwatch --help`; `main` runs them with their own parsers."""
    sub.add_parser("search", help=SEARCH_HELP, add_help=False)
    sub.add_parser("stories", help=STORIES_HELP, add_help=False)


def main(command: str, argv: Sequence[str], out: TextIO = sys.stdout) -> int:
    try:
        if command == "search":
            return run_search(argv, out)
        return run_stories(argv, out)
    except QueryError as e:
        print(f"balkanwatch {command}: {e}", file=sys.stderr)
        return USAGE
    except ConfigError as e:
        print(f"balkanwatch: {mask_secrets(str(e))}", file=sys.stderr)
        return 1


# --- search ------------------------------------------------------------------------------------


def query_text(words: Sequence[str]) -> str:
    """The query of the command line: one argument with a space in it is a phrase (the shell
    took its quotes), `-` before it included."""
    parts = []
    for word in words:
        negative = word.startswith("-") and not word.startswith('-"')
        core = word[1:] if negative else word
        if any(c.isspace() for c in core.strip()) and '"' not in core:
            word = ("-" if negative else "") + f'"{core.strip()}"'
        parts.append(word)
    return " ".join(parts)


def _split_exclusions(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """(-word terms, the rest): the commands have no short options besides -h, so a single dash
    starts a word to exclude, wherever it stands."""
    excluded, rest = [], []
    for arg in argv:
        if arg.startswith("-") and not arg.startswith("--") and len(arg) > 1 and arg != "-h":
            excluded.append(arg)
        else:
            rest.append(arg)
    return excluded, rest


def build_query(args: argparse.Namespace, excluded: list[str], cfg: Config) -> SearchQuery:
    now = datetime.now(UTC)
    tz = cfg.settings.tz
    since = parse_moment(args.since, now, tz) if args.since else None
    until = parse_moment(args.until, now, tz, end_of_day=True) if args.until else None
    if since and until and until <= since:
        raise QueryError("--until must be later than --since")
    _known("--outlet", args.outlet, [o.name for o in cfg.outlets], "outlets.yaml")
    _known("--topic", args.topic, [t.name for t in cfg.topics], "topics.yaml")
    for lang in args.language:
        if not (lang.isascii() and lang.isalpha() and 2 <= len(lang) <= 3):
            raise QueryError(f"--language: {lang!r} is not a language code (sq, sr, mk, en)")
    return SearchQuery(
        parse_query(query_text([*args.query, *excluded])),
        outlets=tuple(args.outlet),
        topics=tuple(args.topic),
        languages=tuple(x.lower() for x in args.language),
        since=since,
        until=until,
        sort=args.sort,
        limit=args.limit,
    )


def _known(option: str, given: list[str], names: list[str], where: str) -> None:
    for name in given:
        if name not in names:
            known = ", ".join(names) or "none"
            raise QueryError(f"{option}: unknown name {name!r} ({where} has: {known})")


def run_search(argv: Sequence[str], out: TextIO) -> int:
    excluded, rest = _split_exclusions(argv)
    args = search_parser().parse_args(rest)
    cfg = load_config(need_secrets=False)
    query = build_query(args, excluded, cfg)
    store = _archive(cfg)
    try:
        hits = store.search(query)
    finally:
        store.close()
    if args.json:
        print(json.dumps([h.as_json() for h in hits], ensure_ascii=False, indent=2), file=out)
    elif not hits:
        print("no articles found", file=out)
    for hit in hits if not args.json else []:
        print(format_hit(hit, cfg), file=out)
    return 0


def format_hit(hit: SearchHit, cfg: Config) -> str:
    return (
        f"{local_time(hit.when, cfg)}  {hit.outlet}  {hit.title}\n"
        f"    {hit.url}\n"
        f"    {hit.snippet.marked()}"
    )


# --- stories -----------------------------------------------------------------------------------


def run_stories(argv: Sequence[str], out: TextIO) -> int:
    args = stories_parser().parse_args(list(argv))
    cfg = load_config(need_secrets=False)
    _known("--topic", args.topic, [t.name for t in cfg.topics], "topics.yaml")
    since = parse_moment(args.since, datetime.now(UTC), cfg.settings.tz) if args.since else None
    store = _archive(cfg)
    try:
        stories = store.latest_stories(tuple(args.topic), since, args.limit)
    finally:
        store.close()
    if args.json:
        print(json.dumps([s.as_json() for s in stories], ensure_ascii=False, indent=2), file=out)
        return 0
    if not stories:
        print("no stories found", file=out)
    for story in stories:
        print(format_story(story, cfg), file=out)
    return 0


def format_story(story: StoryLine, cfg: Config) -> str:
    others = len(story.outlets) - 1
    outlets = story.outlet + (f" +{others}" if others else "")
    return "  ".join(
        [
            local_time(story.when, cfg),
            ",".join(story.topics) or "-",
            " ".join(story.title.split()) or "(untitled)",
            outlets,
            story.url,
        ]
    )


# --- shared ------------------------------------------------------------------------------------


def _archive(cfg: Config) -> Store:
    """The database, for reading: a missing one is an error, not created."""
    if isinstance(cfg.database, Path) and not cfg.database.exists():
        raise ConfigError(
            f"{cfg.database}: no database yet (the daemon or `scrapy crawl outlets` creates it)"
        )
    return Store(cfg.database)


def local_time(value: str, cfg: Config) -> str:
    moment = parse_time(value)
    if moment is None:
        return value[:16]
    return moment.astimezone(cfg.settings.tz).strftime("%Y-%m-%d %H:%M")
