"""`balkanwatch status`: per outlet health from the `crawls` table, and the alert queue."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from balkanwatch.core.config import Config
from balkanwatch.core.secrets import mask_secrets
from balkanwatch.core.times import parse_time
from balkanwatch.storage.store import Store


def outlet_health(store: Store, outlet: str, limit: int = 200) -> dict[str, Any]:
    """Last crawl, consecutive failures and consecutive runs without a new article."""
    crawls = store.recent_crawls(outlet, limit)
    last = crawls[0] if crawls else None
    # A crawl interrupted by a signal says nothing about the outlet: it neither counts as a
    # failure nor breaks a run of them. A timed-out crawl is a failure.
    judged = [c for c in crawls if c["status"] != "interrupted"]
    failures = next(
        (i for i, c in enumerate(judged) if c["status"] not in ("error", "timeout")), len(judged)
    )
    empty = next((i for i, c in enumerate(judged) if c["new_articles"]), len(judged))
    return {
        "outlet": outlet,
        "last_crawl": last["started_at"] if last else None,
        "result": last["status"] if last else None,
        "error": last["error"] if last else None,
        "new_articles": last["new_articles"] if last else 0,
        "consecutive_failures": failures,
        "runs_without_new": empty,
        "articles": store.count_articles(outlet),
    }


def status_report(cfg: Config, store: Store) -> dict[str, Any]:
    try:
        outlets = [{**outlet_health(store, o.name), "enabled": o.enabled} for o in cfg.outlets]
        alerts = store.alert_counts()
        failing = store.alerts_with_errors(20)
        total = store.count_articles()
        dead = dead_sources(cfg, store)
    finally:
        store.close()
    return {
        "database": mask_secrets(str(cfg.database)),
        "articles": total,
        "outlets": outlets,
        "alerts": {
            "pending": alerts.get("pending", 0),
            "sent": alerts.get("sent", 0),
            "failed": alerts.get("failed", 0),
        },
        "alerts_with_errors": failing,
        "dead_sources": dead,
    }


def dead_sources(cfg: Config, store: Store) -> list[dict[str, Any]]:
    """Configured feeds and sitemaps the crawler found dead and replaced (crawler/heal.py);
    a URL no longer in the configuration is no longer news."""
    configured = {(o.name, u) for o in cfg.outlets for u in (*o.feeds, *o.sitemaps)}
    return [
        {k: r[k] for k in ("outlet", "url", "kind", "since", "reason", "replaced_by")}
        for r in store.source_health()
        if r["state"] == "dead" and (r["outlet"], r["url"]) in configured
    ]


def dead_source_lines(dead: list[dict[str, Any]], now: datetime) -> list[str]:
    return [
        f"  {d['outlet']}: {d['kind']} {d['url']} dead since {relative(d['since'], now)}"
        f" ({d['reason']}); crawled through {d['replaced_by']}"
        for d in dead
    ]


def relative(when: str | None, now: datetime) -> str:
    if not when:
        return "never"
    moment = parse_time(when)
    if moment is None:
        return when
    seconds = (now - moment).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            text = f"{int(seconds // size)}{unit}"
            break
    else:
        text = f"{int(seconds)}s"
    return f"in {text}" if future else f"{text} ago"


def format_status(report: dict[str, Any], now: datetime) -> str:
    head = ("outlet", "last crawl", "result", "new", "failures", "no-new runs", "articles")
    rows = [head]
    for o in report["outlets"]:
        rows.append(
            (
                o["outlet"] + ("" if o["enabled"] else " (off)"),
                relative(o["last_crawl"], now),
                o["result"] or "-",
                str(o["new_articles"]),
                str(o["consecutive_failures"]),
                str(o["runs_without_new"]),
                str(o["articles"]),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    errors = [o for o in report["outlets"] if o["result"] == "error" and o["error"]]
    for o in errors:
        lines.append(f"  {o['outlet']}: {o['error'][:300]}")
    if report.get("dead_sources"):
        lines.append("Replaced sources (update outlets.yaml):")
        lines.extend(dead_source_lines(report["dead_sources"], now))
    a = report["alerts"]
    lines.append("")
    lines.append(
        f"Articles: {report['articles']}.  Alerts: {a['pending']} pending, {a['sent']} sent,"
        f" {a['failed']} failed."
    )
    for r in report["alerts_with_errors"]:
        if r["status"] == "failed":
            retry = ", gave up"
        elif r["next_attempt_at"]:
            retry = f", retry {relative(r['next_attempt_at'], now)}"
        else:
            retry = ""
        lines.append(
            f"  alert {r['id']} to {r['subscriber']} ({r['kind']}): {r['attempts']} attempts"
            f"{retry}: {(r['last_error'] or '')[:200]}"
        )
    return "\n".join(lines)
