"""What one crawl did for one outlet, and how its record reads to an operator.

Plain data, no Scrapy: the crawl child fills an `OutletRun` and writes it to the `crawls` table as
soon as the outlet is done; the daemon reads those rows back (storage is the only channel between
them) and prints the same one-line reason and the same summary.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from balkanwatch.core.times import utcnow

# Statuses of a crawl record. `timeout` and `error` are failures; `interrupted` (the crawl was
# stopped by a signal) says nothing about the outlet and is no failure.
OK, ERROR, TIMEOUT, INTERRUPTED = "ok", "error", "timeout", "interrupted"
FAILED = frozenset({ERROR, TIMEOUT})


@dataclass
class OutletRun:
    """What one pass did for one outlet; written to the `crawls` table when it is done."""

    outlet: str
    started_at: str = field(default_factory=utcnow)
    discovered: int = 0
    new_articles: int = 0
    matched: int = 0
    alerted: int = 0
    requests: int = 0  # HTTP requests sent (redirect hops and retries included)
    not_modified: int = 0
    sources_ok: int = 0
    errors: list[str] = field(default_factory=list)
    source_errors: int = 0
    articles_ok: int = 0
    article_errors: int = 0
    skipped: int = 0  # article links not fetched by policy: robots.txt, another domain
    ended: str | None = None  # timeout | interrupted when cut before it was done
    ended_why: str = ""

    @property
    def status(self) -> str:
        """error: every source failed, or every article this pass tried to fetch failed."""
        if self.ended:
            return self.ended
        if self.source_errors and not self.sources_ok:
            return ERROR
        if self.article_errors and not self.articles_ok:
            return ERROR
        return OK

    def record(self) -> dict[str, Any]:
        """The `crawls` row: status, counts and the reason, with what was stored when cut."""
        error = "; ".join(self.errors)[:2000] or None
        if self.ended:
            stored = f"stored {self.new_articles} new of {self.discovered} found"
            error = f"{self.ended_why}; {stored}" + (f"; {error}" if error else "")
        return {
            "outlet": self.outlet,
            "started_at": self.started_at,
            "finished_at": utcnow(),
            "status": self.status,
            "error": error,
            "discovered": self.discovered,
            "new_articles": self.new_articles,
            "requests": self.requests,
            "not_modified": self.not_modified,
            "matched": self.matched,
        }


@dataclass
class SourceState:
    """A feed, sitemap or homepage fetched this pass; its validators are saved only if every
    article it led to was fetched, so a failed article is retried on the next poll."""

    outlet: str
    etag: str | None = None
    last_modified: str | None = None
    complete: bool = True
    pointer: bool = False  # names other sources only: never revalidated (see the spider)


def short_reason(error: str | None) -> str:
    """The first reason of a record's error text, without the URL it is about: what an operator
    reads first (`DNS lookup failed for www.koha.net`)."""
    if not error:
        return ""
    first = error.split("; ")[0]
    head, sep, rest = first.partition(": ")
    if sep and "://" in head:
        return rest
    return first


def outcome_line(row: Mapping[str, Any], seconds: float | None = None) -> str:
    """One line per outlet crawl, for logs: figures, then the reason when it did not go well."""
    took = f" ({seconds:.1f}s)" if seconds is not None else ""
    line = (
        f"crawl-result {row['outlet']} status={row['status']} new={row['new_articles'] or 0}"
        f" found={row['discovered'] or 0} matched={row['matched'] or 0}"
        f" requests={row['requests'] or 0}{took}"
    )
    if row["status"] != OK and row.get("error"):
        line += f" {row['status']}: {short_reason(row['error'])}"
    return line


_KINDS = (
    ("DNS lookup failed", "DNS"),
    ("connection refused", "refused"),
    ("timed out", "timeout"),
    ("HTTP ", "HTTP"),
)
_NETWORK = frozenset({"DNS", "refused"})


def failure_kind(row: Mapping[str, Any]) -> str:
    text = row.get("error") or ""
    return next((kind for needle, kind in _KINDS if needle in text), "other")


def cycle_summary(rows: Iterable[Mapping[str, Any]]) -> str:
    """`41 outlets: 0 ok, 41 failed (41 DNS): check the network or proxy settings`."""
    rows = list(rows)
    statuses = Counter(r["status"] for r in rows)
    failed = [r for r in rows if r["status"] in FAILED]
    kinds = Counter(failure_kind(r) for r in failed)
    text = f"{len(rows)} outlets: {statuses[OK]} ok, {len(failed)} failed"
    if kinds:
        text += " (" + ", ".join(f"{n} {k}" for k, n in kinds.most_common()) + ")"
    if statuses[INTERRUPTED]:
        text += f", {statuses[INTERRUPTED]} interrupted"
    if failed and not statuses[OK] and sum(kinds[k] for k in _NETWORK) * 2 > len(failed):
        text += ": check the network or proxy settings"
    new = sum(r["new_articles"] or 0 for r in rows)
    if statuses[OK]:
        text += f"; {new} new articles"
    return text


def summary_lines(runs: list[OutletRun]) -> list[str]:
    """The per-outlet table an operator reads at the end of a manual crawl."""
    head = f"{'outlet':<24} {'status':<11} {'found':>6} {'new':>5} {'matched':>7} {'alerts':>6}"
    lines = ["Crawl summary:", head]
    for r in runs:
        lines.append(
            f"{r.outlet:<24} {r.status:<11} {r.discovered:>6} {r.new_articles:>5}"
            f" {r.matched:>7} {r.alerted:>6}" + (f"  errors: {len(r.errors)}" if r.errors else "")
        )
    lines.append(cycle_summary(r.record() for r in runs))
    return lines
