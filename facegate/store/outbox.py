"""The store's webhook outbox: one row per event to deliver, and a work queue the nodes claim rows from.

Reached as `store.outbox`. The row is written in the result's transaction (`enqueue`); the
webhook sender (pipeline/delivery/webhooks.py) claims due rows, posts them and records each attempt's
outcome. A row is `pending`, then `retrying` after a failed attempt, and ends `delivered` or
`failed` (a dead letter, which `retry_failed` puts back in line).
"""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from facegate.db.schema import outbox
from facegate.store.core import StoreCore


class OutboxStatus(StrEnum):
    """Where an outbox row stands; the value is what the `status` column holds."""

    PENDING = "pending"
    RETRYING = "retrying"
    DELIVERED = "delivered"
    FAILED = "failed"


OPEN_STATUSES = (OutboxStatus.PENDING, OutboxStatus.RETRYING)
CLAIM_FREE = {"claimed_by": None, "claimed_until": None}
ERROR_KEPT = 500  # characters of an attempt's error kept on the row


def _due(now: float) -> sa.ColumnElement[bool]:
    """Open, due, and not held by a live claim."""
    return sa.and_(
        outbox.c.status.in_(OPEN_STATUSES),
        outbox.c.next_attempt_at <= now,
        sa.or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until <= now),
    )


class OutboxRecords:
    """The outbox rows: written with each event, claimed and settled by the webhook senders."""

    def __init__(self, core: StoreCore) -> None:
        self.core = core

    def enqueue(self, db: Connection, event_id: str, body: str, now: float) -> None:
        """Put an event's webhook body in line, due at once (inside the result's transaction)."""
        db.execute(
            self.core.insert(outbox)
            .values(
                event_id=event_id,
                body=body,
                status=OutboxStatus.PENDING,
                attempts=0,
                next_attempt_at=now,
                created=now,
            )
            .on_conflict_do_nothing(index_elements=["event_id"])
        )

    def due(self, now: float, limit: int = 20) -> list[dict[str, Any]]:
        """Deliveries to attempt now, oldest due first (a single emitter's view; several nodes claim)."""
        rows = self.core.rows(
            sa.select(outbox.c.event_id, outbox.c.body, outbox.c.attempts, outbox.c.created)
            .where(_due(now))
            .order_by(outbox.c.next_attempt_at)
            .limit(limit)
        )
        return [dict(row._mapping) for row in rows]

    def claim(self, node_id: str, now: float, limit: int = 20, lease_s: float = 60.0) -> list[dict[str, Any]]:
        """Take up to `limit` due deliveries for `node_id` until `now + lease_s`; returns them, oldest due first.

        On PostgreSQL the due rows are locked with FOR UPDATE SKIP LOCKED, so claimers on other
        nodes pass over them instead of waiting, and never take the same row; on SQLite the
        write transaction itself is exclusive. A claim whose outcome is not recorded (mark_delivered,
        mark_retry, mark_failed) before its lease ends is due again for anyone: the node died.
        """
        with self.core.transaction() as db:
            chosen = (
                db.execute(
                    sa.select(outbox.c.event_id)
                    .where(_due(now))
                    .order_by(outbox.c.next_attempt_at)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
                .scalars()
                .all()
            )
            if not chosen:
                return []
            claimed = db.execute(
                sa.update(outbox)
                .where(outbox.c.event_id.in_(chosen))
                .values(claimed_by=node_id, claimed_until=now + lease_s)
                .returning(outbox.c.event_id, outbox.c.body, outbox.c.attempts, outbox.c.created)
            ).all()
        order = {event_id: i for i, event_id in enumerate(chosen)}
        return sorted((dict(row._mapping) for row in claimed), key=lambda row: order[row["event_id"]])

    def get(self, event_id: str) -> dict[str, Any] | None:
        """One outbox row as stored, claim included."""
        rows = self.core.rows(sa.select(outbox).where(outbox.c.event_id == event_id))
        return dict(rows[0]._mapping) if rows else None

    def next_due_at(self) -> float | None:
        """When the next open row is due: its retry time, or the end of another node's claim on it."""
        claim_end = sa.func.coalesce(outbox.c.claimed_until, outbox.c.next_attempt_at)
        due_at = sa.case((claim_end > outbox.c.next_attempt_at, claim_end), else_=outbox.c.next_attempt_at)
        found: float | None = self.core.scalar(sa.select(sa.func.min(due_at)).where(outbox.c.status.in_(OPEN_STATUSES)))
        return found

    def _record_attempt(self, event_id: str, node_id: str | None, **values: Any) -> bool:
        """Write an attempt's outcome and free the row's claim; with `node_id`, only while that node's claim
        still stands (a claim that ran out and was taken by another node is that node's to record). True if
        written."""
        mine = outbox.c.event_id == event_id
        if node_id is not None:
            mine = sa.and_(mine, sa.or_(outbox.c.claimed_by == node_id, outbox.c.claimed_by.is_(None)))
        with self.core.transaction() as db:
            return db.execute(sa.update(outbox).where(mine).values(**values, **CLAIM_FREE)).rowcount > 0

    def mark_delivered(self, event_id: str, attempts: int, when: float, *, node_id: str | None = None) -> bool:
        """The receiver took the event at `when`, on attempt `attempts`."""
        return self._record_attempt(
            event_id, node_id, status=OutboxStatus.DELIVERED, attempts=attempts, delivered=when, last_error=None
        )

    def mark_retry(
        self, event_id: str, attempts: int, next_attempt_at: float, error: str, *, node_id: str | None = None
    ) -> bool:
        """Attempt `attempts` failed with `error`; try again at `next_attempt_at`."""
        return self._record_attempt(
            event_id,
            node_id,
            status=OutboxStatus.RETRYING,
            attempts=attempts,
            next_attempt_at=next_attempt_at,
            last_error=error[:ERROR_KEPT],
        )

    def mark_failed(self, event_id: str, attempts: int, error: str, *, node_id: str | None = None) -> bool:
        """Give up after attempt `attempts`: the row is a dead letter."""
        return self._record_attempt(
            event_id, node_id, status=OutboxStatus.FAILED, attempts=attempts, last_error=error[:ERROR_KEPT]
        )

    def failed(self, limit: int = 100) -> list[dict[str, Any]]:
        """The dead letters, newest first, with their last error."""
        rows = self.core.rows(
            sa.select(outbox.c.event_id, outbox.c.body, outbox.c.attempts, outbox.c.created, outbox.c.last_error)
            .where(outbox.c.status == OutboxStatus.FAILED)
            .order_by(outbox.c.created.desc())
            .limit(limit)
        )
        return [dict(row._mapping) for row in rows]

    def retry_failed(self, now: float | None = None) -> int:
        """Put dead letters back in line for delivery, with a fresh attempt budget."""
        with self.core.transaction() as db:
            return db.execute(
                sa.update(outbox)
                .where(outbox.c.status == OutboxStatus.FAILED)
                .values(
                    status=OutboxStatus.PENDING,
                    attempts=0,
                    next_attempt_at=time.time() if now is None else now,
                    **CLAIM_FREE,
                )
            ).rowcount

    def latencies(self, limit: int = 500) -> list[float]:
        """Seconds from event to successful delivery, for the most recent deliveries."""
        rows = self.core.rows(
            sa.select(outbox.c.delivered - outbox.c.created)
            .where(outbox.c.status == OutboxStatus.DELIVERED)
            .order_by(outbox.c.delivered.desc())
            .limit(limit)
        )
        return [float(row[0]) for row in rows]

    def counts(self) -> dict[str, int]:
        """How many rows have each status (every status listed, 0 when none)."""
        counts = {status.value: 0 for status in OutboxStatus}
        for row in self.core.rows(sa.select(outbox.c.status, sa.func.count().label("n")).group_by(outbox.c.status)):
            counts[row.status] = int(row.n)
        return counts
