"""Outlet health: an outlet that keeps failing, or quietly stops producing articles, is reported.

The decision is a pure function of the outlet's recent crawls
(`balkanwatch.app.report.outlet_health`) and its last reported state, which is stored so that a
restart neither repeats a warning nor forgets one. Operators (settings.yaml `operators`) get one
alert when an outlet turns unhealthy and one when it recovers.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from typing import Any

from balkanwatch.app.report import outlet_health
from balkanwatch.core.config import Config
from balkanwatch.core.times import utcnow
from balkanwatch.delivery.render import OperatorView, render_operator
from balkanwatch.delivery.templating import Templates, templates_for
from balkanwatch.storage.store import Store

log = logging.getLogger("balkanwatch.app.health")


@dataclass(frozen=True)
class Verdict:
    state: str  # healthy | failing | silent
    reason: str


def judge(health: dict[str, Any], failure_threshold: int, empty_threshold: int) -> Verdict:
    """An outlet's state from its recent crawls."""
    failures = health["consecutive_failures"]
    if failures >= failure_threshold:
        why = (health.get("error") or "unknown error")[:300]
        return Verdict("failing", f"{failures} consecutive failed crawls; last error: {why}")
    empty = health["runs_without_new"]
    if empty >= empty_threshold:
        return Verdict("silent", f"{empty} consecutive crawls without a new article")
    return Verdict("healthy", "")


def operator_message(
    outlet: str, verdict: Verdict, previous: str, templates: Templates | None = None
) -> dict[str, str]:
    """The operator alert, as stored in the outbox row's payload (templates operator.*)."""
    view = OperatorView(
        outlet=outlet,
        state=verdict.state,
        previous=previous,
        reason=verdict.reason,
        command=f"scrapy crawl outlets -a outlets={outlet} -s LOG_LEVEL=DEBUG",
    )
    return asdict(render_operator(view, templates))


class HealthMonitor:
    def __init__(self, store: Store, config: Config) -> None:
        self.store, self.config = store, config

    def check(self, outlet: str) -> Verdict | None:
        """Record the outlet's state; on a change, warn and queue operator alerts. The verdict
        when the state changed, else None."""
        s = self.config.settings
        verdict = judge(outlet_health(self.store, outlet), s.failure_threshold, s.empty_threshold)
        with self.store.transaction():
            previous = self.store.outlet_state(outlet) or "healthy"
            if previous == verdict.state:
                return None
            since = utcnow()
            self.store.set_outlet_state(outlet, verdict.state, since, verdict.reason)
            templates = templates_for(s.templates_dir)
            message = operator_message(outlet, verdict, previous, templates)
            for name in s.operators:
                self.store.queue_alert(
                    {
                        "subscriber": name,
                        "kind": "operator",
                        "dedup_key": f"operator:{name}:{outlet}:{verdict.state}:{since}",
                        "payload": json.dumps(message, ensure_ascii=False),
                    }
                )
        if verdict.state == "healthy":
            log.warning("Outlet %s recovered (was %s)", outlet, previous)
        else:
            log.warning("Outlet %s is %s: %s", outlet, verdict.state, verdict.reason)
        return verdict
