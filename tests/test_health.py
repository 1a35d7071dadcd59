"""Outlet health verdicts (pure) and the stored state that keeps restarts from repeating them."""

from __future__ import annotations

from pathlib import Path

import pytest

from balkanwatch.app.health import HealthMonitor, judge
from balkanwatch.core.config import load_config
from balkanwatch.storage.store import Store
from tests.support import write_config


def health(failures: int = 0, empty: int = 0, error: str | None = None) -> dict:
    return {"consecutive_failures": failures, "runs_without_new": empty, "error": error}


@pytest.mark.parametrize(
    ("h", "state"),
    [
        (health(), "healthy"),
        (health(failures=2), "healthy"),
        (health(failures=3, error="HTTP 503"), "failing"),
        (health(empty=11), "healthy"),
        (health(empty=12), "silent"),
        (health(failures=3, empty=20), "failing"),  # failing says more than silent
    ],
)
def test_judge(h: dict, state: str) -> None:
    assert judge(h, failure_threshold=3, empty_threshold=12).state == state


def test_reason_names_the_error() -> None:
    assert "HTTP 503" in judge(health(failures=4, error="HTTP 503"), 3, 12).reason


def crawl_row(store: Store, status: str, new: int = 0) -> None:
    store.record_crawl(
        {
            "outlet": "x",
            "started_at": "2026-12-01T00:00:00+00:00",
            "status": status,
            "new_articles": new,
            "error": "boom",
        }
    )


def test_transitions_queue_one_operator_alert_each(tmp_path: Path) -> None:
    cfg = load_config(
        write_config(
            tmp_path / "cfg",
            [{"name": "x", "homepage": "https://x.example/"}],
            subscribers=[{"name": "ops", "urls": ["json://127.0.0.1:9/"]}],
            settings={"operators": ["ops"], "failure_threshold": 2},
        ),
        env={},
    )
    store = Store(cfg.database)
    monitor = HealthMonitor(store, cfg)
    crawl_row(store, "ok", new=1)
    assert monitor.check("x") is None
    crawl_row(store, "error")
    assert monitor.check("x") is None
    crawl_row(store, "error")
    assert monitor.check("x").state == "failing"  # type: ignore[union-attr]
    crawl_row(store, "error")
    assert monitor.check("x") is None  # no repeat while it stays failing
    # A restart (new monitor on the same database) remembers the state.
    assert HealthMonitor(Store(cfg.database), cfg).check("x") is None
    crawl_row(store, "ok", new=2)
    assert monitor.check("x").state == "healthy"  # type: ignore[union-attr]
    rows = store.rows("SELECT kind, subscriber, payload FROM alerts ORDER BY id")
    assert [(r["kind"], r["subscriber"]) for r in rows] == [("operator", "ops")] * 2
    assert "failing" in rows[0]["payload"] and "recovered" in rows[1]["payload"]
