"""Outlet leases: several daemons sharing one database crawl each outlet once per interval.

A daemon claims an outlet before crawling it. The lease row names the holder (see `holder.py`)
and the end of its slot, `lease_until`:

- crawling (`started_at` set): one interval from the claim, renewed by the holder while its crawl
  runs (`renew_outlet`), so a crawl longer than the interval keeps its outlet and a holder that
  dies mid-crawl on any host loses it within an interval; a holder that is provably gone (killed
  on this host, or this machine rebooted) loses it at once;
- crawled (`release_outlet`, `started_at` cleared): until one interval after the crawl started,
  whoever holds it; the outlet is not due before then even if its holder has died since.

Anyone may claim an outlet whose slot has ended; the holder may claim it again at any time (its
own scheduler keeps its interval). Times are unix times from the daemons' clocks: keep the hosts'
clocks in sync.
"""

from __future__ import annotations

from typing import Any

from balkanwatch.core.times import iso, timestamp
from balkanwatch.storage.engine import Engine
from balkanwatch.storage.holder import Holder


class OutletLeases:
    engine: Engine
    holder: Holder

    def claim_outlet(self, outlet: str, interval: float, now: float) -> bool:
        """Take the outlet for a crawl starting now; False if another live daemon holds it."""
        me = self.holder.token
        with self.engine.transaction():
            # The row exists before it is locked, so that two first claims meet on one row.
            self.engine.execute(
                "INSERT INTO outlet_leases (outlet) VALUES (?) ON CONFLICT DO NOTHING", (outlet,)
            )
            row = self.engine.one(
                "SELECT owner, lease_until, started_at FROM outlet_leases WHERE outlet = ?"
                + self.engine.lock_rows,
                (outlet,),
            )
            if row is None:  # PostgreSQL: another daemon is claiming it this very moment
                return False
            if not self._free(row, me, now):
                return False
            self.engine.execute(
                "UPDATE outlet_leases SET owner = ?, lease_until = ?, started_at = ? "
                "WHERE outlet = ?",
                (me, now + interval, iso(now), outlet),
            )
        return True

    def renew_outlet(self, outlet: str, until: float) -> bool:
        """Our crawl of the outlet still runs: hold it until then. False if it is not ours any
        more (taken over after our lease ran out)."""
        return (
            self.engine.execute(
                "UPDATE outlet_leases SET lease_until = ? "
                "WHERE outlet = ? AND owner = ? AND started_at IS NOT NULL",
                (until, outlet, self.holder.token),
            )
            == 1
        )

    def _free(self, row: dict[str, Any], me: str, now: float) -> bool:
        owner, until = row["owner"], row["lease_until"]
        if owner is None or owner == me or until is None or until <= now:
            return True
        crawling = row["started_at"] is not None
        return crawling and self.holder.sees_gone(owner)

    def release_outlet(self, outlet: str, interval: float) -> None:
        """Our crawl of the outlet ended: it stays ours until one interval after the crawl
        started. Interval 0 gives it back at once (the crawl did not run)."""
        with self.engine.transaction():
            row = self.engine.one(
                "SELECT started_at FROM outlet_leases WHERE outlet = ? AND owner = ?",
                (outlet, self.holder.token),
            )
            if row is None:  # taken over meanwhile: the lease is someone else's
                return
            started = timestamp(row["started_at"]) or 0.0
            self.engine.execute(
                "UPDATE outlet_leases SET lease_until = ?, started_at = NULL "
                "WHERE outlet = ? AND owner = ?",
                (started + interval, outlet, self.holder.token),
            )

    def outlet_lease(self, outlet: str) -> dict[str, Any] | None:
        """owner, lease_until (unix time) and started_at (set while a crawl runs)."""
        return self.engine.one(
            "SELECT owner, lease_until, started_at FROM outlet_leases WHERE outlet = ?", (outlet,)
        )

    def outlet_leases(self) -> list[dict[str, Any]]:
        return self.engine.query(
            "SELECT outlet, owner, lease_until, started_at FROM outlet_leases ORDER BY outlet"
        )
