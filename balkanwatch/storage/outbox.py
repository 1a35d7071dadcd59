"""The outbox: alert rows, their leases and their delivery records.

Ingest writes pending rows in the same transaction as their article; deliverers claim a row
(a lease in the row itself) before sending, record each URL that took it, and mark it sent or
failed. On PostgreSQL the claim locks the row (`FOR UPDATE SKIP LOCKED`), so deliverers on
several hosts never wait on each other's rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from balkanwatch.core.times import iso, utcnow
from balkanwatch.storage.engine import Engine
from balkanwatch.storage.holder import Holder, this_holder


class Outbox:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # Who holds a lease: this host and process (so a killed holder is seen as gone) and
        # this connection (so two deliverers in one process still exclude each other).
        self.holder: Holder = this_holder()

    @property
    def lease_owner(self) -> str:
        return self.holder.token

    def queue_alert(self, row: dict[str, Any]) -> bool:
        """Add an alert unless one with the same dedup_key exists; True if added."""
        row = {"status": "pending", "attempts": 0, "created_at": utcnow(), **row}
        return (
            self.engine.execute(
                f"INSERT INTO alerts ({', '.join(row)}) VALUES ({', '.join('?' * len(row))}) "
                "ON CONFLICT DO NOTHING",
                list(row.values()),
            )
            == 1
        )

    def alert(self, alert_id: int) -> dict[str, Any] | None:
        return self.engine.one("SELECT * FROM alerts WHERE id = ?", (alert_id,))

    def alert_id_for(self, dedup_key: str) -> int | None:
        row = self.engine.one("SELECT id FROM alerts WHERE dedup_key = ?", (dedup_key,))
        return int(row["id"]) if row else None

    def due_alerts(
        self, now_iso: str, kinds: tuple[str, ...] = ("instant", "digest", "operator", "breaking")
    ) -> list[dict[str, Any]]:
        marks = ",".join("?" * len(kinds))
        return self.engine.query(
            f"SELECT * FROM alerts WHERE status = 'pending' AND kind IN ({marks}) "
            "AND (next_attempt_at IS NULL OR next_attempt_at <= ?) ORDER BY id",
            [*kinds, now_iso],
        )

    def claim(self, alert_id: int, now: float, lease: float = 300.0) -> bool:
        """Take a pending alert for sending, so two deliverers never send the same row at once.
        A lease ends when it expires or, at once, when its holder is provably gone (see
        `holder.py`), so a restart after a crash resends without waiting."""
        me = self.lease_owner
        with self.engine.transaction():
            row = self.engine.one(
                "SELECT status, lease_until, lease_owner, next_attempt_at FROM alerts "
                "WHERE id = ?" + self.engine.lock_rows,
                (alert_id,),
            )
            if row is None or row["status"] != "pending":
                return False
            if (row["next_attempt_at"] or "") > iso(now):
                return False  # failed by another deliverer since it was listed: not due yet
            held = row["lease_until"] is not None and row["lease_until"] >= now
            if held and row["lease_owner"] != me and not self.holder.sees_gone(row["lease_owner"]):
                return False
            self.engine.execute(
                "UPDATE alerts SET lease_until = ?, lease_owner = ? WHERE id = ?",
                (now + lease, me, alert_id),
            )
        return True

    def renew(self, alert_id: int, until: float) -> bool:
        """Extend our lease to `until`; False if it is not ours any more (taken over after it ran
        out, or the row was leased by nobody)."""
        return (
            self.engine.execute(
                "UPDATE alerts SET lease_until = ? WHERE id = ? AND lease_owner = ?",
                (until, alert_id, self.lease_owner),
            )
            == 1
        )

    def release(self, alert_id: int) -> None:
        """Give up our lease; one that ran out and was taken over is the new holder's."""
        self.engine.execute(
            "UPDATE alerts SET lease_until = NULL, lease_owner = NULL "
            "WHERE id = ? AND lease_owner = ?",
            (alert_id, self.lease_owner),
        )

    def mark_delivered(self, alert_id: int, url_keys: Iterable[str]) -> None:
        """Record the URLs (by digest: they carry secrets) that took the message so far."""
        self.engine.execute(
            "UPDATE alerts SET delivered = ? WHERE id = ?",
            (json.dumps(sorted(url_keys)), alert_id),
        )

    def mark_sent(self, alert_id: int, now_iso: str) -> None:
        with self.engine.transaction():
            self.engine.execute(
                "UPDATE alerts SET status = 'sent', sent_at = ?, attempts = attempts + 1, "
                "last_error = NULL, next_attempt_at = NULL WHERE id = ? AND status = 'pending'",
                (now_iso, alert_id),
            )
            # Stories carried by a digest are sent with it.
            self.engine.execute(
                "UPDATE alerts SET status = 'sent', sent_at = ? WHERE digest_id = ?",
                (now_iso, alert_id),
            )

    def mark_attempt_failed(
        self, alert_id: int, error: str, next_attempt_iso: str | None, give_up: bool = False
    ) -> None:
        self.engine.execute(
            "UPDATE alerts SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?, "
            "status = ? WHERE id = ?",
            (error[:1000], next_attempt_iso, "failed" if give_up else "pending", alert_id),
        )

    # -- digests ----------------------------------------------------------------------------

    def open_digest_items(self, subscriber: str, before_iso: str) -> list[dict[str, Any]]:
        """A subscriber's stories queued before `before_iso` that no digest carries yet."""
        return self.engine.query(
            "SELECT id, article_id, topic, created_at FROM alerts WHERE subscriber = ? AND "
            "kind = 'digest-item' AND digest_id IS NULL AND status = 'pending' "
            "AND created_at < ? ORDER BY id",
            (subscriber, before_iso),
        )

    def attach_to_digest(self, digest_id: int, item_ids: list[int]) -> None:
        for i in range(0, len(item_ids), 500):
            chunk = item_ids[i : i + 500]
            self.engine.execute(
                f"UPDATE alerts SET digest_id = ? WHERE id IN ({','.join('?' * len(chunk))})",
                [digest_id, *chunk],
            )

    # -- the queue as operators see it ------------------------------------------------------

    def alert_counts(self) -> dict[str, int]:
        rows = self.engine.query("SELECT status, count(*) AS n FROM alerts GROUP BY status")
        return {r["status"]: int(r["n"]) for r in rows}

    def alerts_with_errors(self, limit: int = 20) -> list[dict[str, Any]]:
        return self.engine.query(
            "SELECT id, subscriber, kind, status, attempts, last_error, next_attempt_at "
            "FROM alerts WHERE status = 'failed' OR (status = 'pending' AND attempts > 0) "
            "ORDER BY id LIMIT ?",
            (limit,),
        )
