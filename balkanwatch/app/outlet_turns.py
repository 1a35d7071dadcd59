"""Whose turn it is to crawl an outlet, when several daemons share one database.

Each daemon schedules every outlet; before a crawl it claims the outlet's lease in the store
(`Store.claim_outlet`), after it releases it. A daemon that finds the outlet held by another
waits for the holder's slot to end when that comes before its own next run, and claims again:
if the holder is alive it has renewed its lease by then (its own run is due at the same time)
and this daemon skips the outlet; if it died, this daemon crawls the outlet at the end of the
dead one's interval. So an outlet whose daemon was killed is crawled again within one interval
of its last crawl, on any host, without waiting for this daemon's next scheduled run.

While a crawl runs (waiting for its batch, then the child process) the lease is renewed every
quarter interval, so a long crawl keeps its outlet and one whose daemon died mid-crawl is taken
over within an interval.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time

from balkanwatch.core.config import Config, Outlet
from balkanwatch.storage.engine import DATABASE_ERRORS
from balkanwatch.storage.store import Store

log = logging.getLogger("balkanwatch.app.daemon")

SETTLE = 1.0  # seconds past the holder's latest next run (its jitter) before claiming


class OutletTurns:
    def __init__(
        self, store: Store, config: Config, stopping: asyncio.Event, jitter_max: float
    ) -> None:
        self.store = store
        self.config = config
        self.stopping = stopping
        self.jitter_max = jitter_max  # the daemon's: a live holder's run comes this much late
        self.renewals: dict[str, asyncio.Task[None]] = {}

    def _settle(self, interval: float) -> float:
        """How long after a slot ends a live holder has surely claimed it again."""
        return min(self.jitter_max, interval * 0.1) + SETTLE * random.uniform(1, 2)

    def _claim(self, outlet: Outlet) -> bool:
        interval = self.config.interval_of(outlet)
        try:
            claimed = self.store.claim_outlet(outlet.name, interval, time.time())
        except DATABASE_ERRORS as e:  # type: ignore[misc]
            log.error("Claiming %s failed, skipping this run: %s", outlet.name, e)
            return False
        if claimed and outlet.name not in self.renewals:
            self.renewals[outlet.name] = asyncio.create_task(self._renew(outlet.name, interval))
        return claimed

    async def _renew(self, name: str, interval: float) -> None:
        while True:
            await asyncio.sleep(interval / 4)
            try:
                if not self.store.renew_outlet(name, time.time() + interval):
                    log.warning("Outlet %s was taken over by another daemon mid-crawl", name)
                    return
            except DATABASE_ERRORS as e:  # type: ignore[misc]
                log.error("Renewing the lease of %s failed: %s", name, e)

    async def claim(self, outlet: Outlet) -> bool:
        """Before a crawl: True when this daemon may crawl the outlet now."""
        if self._claim(outlet):
            return True
        lease = self.store.outlet_lease(outlet.name)
        until = lease["lease_until"] if lease else None
        interval = self.config.interval_of(outlet)
        wait = (until or 0.0) - time.time() + self._settle(interval)
        if until is None or wait >= interval:
            return False  # not ours before our next run anyway
        try:
            await asyncio.wait_for(self.stopping.wait(), max(wait, 0.0))
            return False  # stopping
        except TimeoutError:
            pass
        if self._claim(outlet):
            log.info(
                "Outlet %s: its holder did not crawl it in time; crawling it here", outlet.name
            )
            return True
        log.debug("Outlet %s is crawled by another daemon", outlet.name)
        return False

    def release(self, outlet: Outlet, crawled: bool) -> None:
        """After a crawl: the outlet is not due before one interval after the crawl started;
        if no crawl ran (shutdown), anyone may take it at once."""
        renewal = self.renewals.pop(outlet.name, None)
        if renewal:
            renewal.cancel()
        try:
            self.store.release_outlet(
                outlet.name, self.config.interval_of(outlet) if crawled else 0
            )
        except DATABASE_ERRORS as e:  # type: ignore[misc]
            log.error("Releasing %s failed (its lease runs out): %s", outlet.name, e)
