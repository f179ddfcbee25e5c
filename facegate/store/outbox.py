"""The store's webhook outbox: one row per event to deliver, and a work queue the nodes claim rows from.

Reached as `store.outbox`. A row is one event for one endpoint (the key is the pair), written in the
event's transaction: `enqueue_event` writes a row for each endpoint whose rules the event matches
(facegate/store/endpoints.py), plus the v1 webhook's (the endpoint `default`) for an `appeared`
event when `NEXTJS_WEBHOOK_URL` is set. The webhook sender (pipeline/delivery/webhooks.py) claims
due rows, posts them and records each attempt's outcome. A row is `pending`, then `retrying` after
a failed attempt, and ends `delivered` or `failed` (a dead letter, which `retry_failed` puts back
in line).
"""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from facegate.db.schema import outbox
from facegate.events import APPEARED, DEFAULT_ENDPOINT, TEST, OutgoingEvent, body_for, default_endpoint_url
from facegate.store.core import StoreCore, iso_now, new_event_id
from facegate.store.endpoints import EndpointRecords


class OutboxStatus(StrEnum):
    """Where an outbox row stands; the value is what the `status` column holds."""

    PENDING = "pending"
    RETRYING = "retrying"
    DELIVERED = "delivered"
    FAILED = "failed"


OPEN_STATUSES = (OutboxStatus.PENDING, OutboxStatus.RETRYING)
CLAIM_FREE = {"claimed_by": None, "claimed_until": None}
ERROR_KEPT = 500  # characters of an attempt's error kept on the row
ROW = (outbox.c.event_id, outbox.c.endpoint_id, outbox.c.body, outbox.c.attempts, outbox.c.created)


def _key(event_id: str, endpoint_id: str) -> sa.ColumnElement[bool]:
    return sa.and_(outbox.c.event_id == event_id, outbox.c.endpoint_id == endpoint_id)


def _listed(row: sa.Row[Any]) -> dict[str, Any]:
    """A row as `due`, `claim` and `failed` hand it out: the v1 webhook's rows in the shape they always had,
    the other endpoints' with their `endpoint_id`."""
    found = dict(row._mapping)
    if found.get("endpoint_id") == DEFAULT_ENDPOINT:
        del found["endpoint_id"]
    return found


def _open(without: tuple[str, ...]) -> sa.ColumnElement[bool]:
    """Open rows, except those of the endpoints `without` (a node without the v1 webhook leaves its rows)."""
    found = outbox.c.status.in_(OPEN_STATUSES)
    return sa.and_(found, outbox.c.endpoint_id.not_in(without)) if without else found


def _due(now: float, without: tuple[str, ...] = ()) -> sa.ColumnElement[bool]:
    """Open, due, and not held by a live claim."""
    return sa.and_(
        _open(without),
        outbox.c.next_attempt_at <= now,
        sa.or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until <= now),
    )


class OutboxRecords:
    """The outbox rows: written with each event, claimed and settled by the webhook senders."""

    def __init__(self, core: StoreCore, endpoints: EndpointRecords) -> None:
        self.core = core
        self.endpoints = endpoints

    def enqueue_event(
        self, db: Connection, event: OutgoingEvent, now: float, *, default_endpoint: bool | None = None
    ) -> list[str]:
        """Put `event` in line for every endpoint that asks for it, inside the event's transaction `db`; returns
        those endpoints' ids. `default_endpoint`: whether the v1 webhook is on (None: `NEXTJS_WEBHOOK_URL`
        decides); it takes `appeared` events only."""
        chosen = self.endpoints.matching(db, event)
        if default_endpoint is None:
            default_endpoint = default_endpoint_url() is not None
        if default_endpoint and event.type == APPEARED:
            chosen.insert(0, DEFAULT_ENDPOINT)
        for endpoint_id in chosen:
            self.enqueue(db, event.event_id, body_for(endpoint_id, event.payload), now, endpoint_id)
        return chosen

    def enqueue_test(self, endpoint_id: str, now: float) -> str:
        """Put a test event in line for one endpoint (signed and retried like any other); returns its event id."""
        event_id = new_event_id()
        payload = {"type": TEST, "endpoint_id": endpoint_id, "timestamp": iso_now(now), "message": "a test event"}
        with self.core.transaction() as db:
            self.enqueue(db, event_id, body_for(endpoint_id, payload), now, endpoint_id)
        return event_id

    def enqueue(
        self, db: Connection, event_id: str, body: str, now: float, endpoint_id: str = DEFAULT_ENDPOINT
    ) -> None:
        """Put an event's webhook body in line for one endpoint, due at once (inside the event's transaction)."""
        db.execute(
            self.core.insert(outbox)
            .values(
                event_id=event_id,
                endpoint_id=endpoint_id,
                body=body,
                status=OutboxStatus.PENDING,
                attempts=0,
                next_attempt_at=now,
                created=now,
            )
            .on_conflict_do_nothing(index_elements=["event_id", "endpoint_id"])
        )

    def due(self, now: float, limit: int = 20) -> list[dict[str, Any]]:
        """Deliveries to attempt now, oldest due first (a single emitter's view; several nodes claim)."""
        rows = self.core.rows(sa.select(*ROW).where(_due(now)).order_by(outbox.c.next_attempt_at).limit(limit))
        return [_listed(row) for row in rows]

    def claim(
        self, node_id: str, now: float, limit: int = 20, lease_s: float = 60.0, without: tuple[str, ...] = ()
    ) -> list[dict[str, Any]]:
        """Take up to `limit` due deliveries for `node_id` until `now + lease_s`; returns them, oldest due first.
        Rows of the endpoints `without` are left to other nodes.

        On PostgreSQL the due rows are locked with FOR UPDATE SKIP LOCKED, so claimers on other
        nodes pass over them instead of waiting, and never take the same row; on SQLite the
        write transaction itself is exclusive. A claim whose outcome is not recorded (mark_delivered,
        mark_retry, mark_failed) before its lease ends is due again for anyone: the node died.
        """
        with self.core.transaction() as db:
            chosen = db.execute(
                sa.select(outbox.c.event_id, outbox.c.endpoint_id)
                .where(_due(now, without))
                .order_by(outbox.c.next_attempt_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            if not chosen:
                return []
            keys = [(row.event_id, row.endpoint_id) for row in chosen]
            claimed = db.execute(
                sa.update(outbox)
                .where(sa.tuple_(outbox.c.event_id, outbox.c.endpoint_id).in_(keys))
                .values(claimed_by=node_id, claimed_until=now + lease_s)
                .returning(*ROW)
            ).all()
        order = {(row.event_id, row.endpoint_id): i for i, row in enumerate(chosen)}
        return [_listed(row) for row in sorted(claimed, key=lambda row: order[(row.event_id, row.endpoint_id)])]

    def get(self, event_id: str, endpoint_id: str = DEFAULT_ENDPOINT) -> dict[str, Any] | None:
        """One outbox row as stored, claim included."""
        rows = self.core.rows(sa.select(outbox).where(_key(event_id, endpoint_id)))
        return dict(rows[0]._mapping) if rows else None

    def next_due_at(self, without: tuple[str, ...] = ()) -> float | None:
        """When the next open row is due: its retry time, or the end of another node's claim on it."""
        claim_end = sa.func.coalesce(outbox.c.claimed_until, outbox.c.next_attempt_at)
        due_at = sa.case((claim_end > outbox.c.next_attempt_at, claim_end), else_=outbox.c.next_attempt_at)
        found: float | None = self.core.scalar(sa.select(sa.func.min(due_at)).where(_open(without)))
        return found

    def _record_attempt(self, event_id: str, endpoint_id: str, node_id: str | None, **values: Any) -> bool:
        """Write an attempt's outcome and free the row's claim; with `node_id`, only while that node's claim
        still stands (a claim that ran out and was taken by another node is that node's to record). True if
        written."""
        mine = _key(event_id, endpoint_id)
        if node_id is not None:
            mine = sa.and_(mine, sa.or_(outbox.c.claimed_by == node_id, outbox.c.claimed_by.is_(None)))
        with self.core.transaction() as db:
            return db.execute(sa.update(outbox).where(mine).values(**values, **CLAIM_FREE)).rowcount > 0

    def mark_delivered(
        self,
        event_id: str,
        attempts: int,
        when: float,
        *,
        node_id: str | None = None,
        endpoint_id: str = DEFAULT_ENDPOINT,
    ) -> bool:
        """The receiver took the event at `when`, on attempt `attempts`."""
        return self._record_attempt(
            event_id,
            endpoint_id,
            node_id,
            status=OutboxStatus.DELIVERED,
            attempts=attempts,
            delivered=when,
            last_error=None,
        )

    def mark_retry(
        self,
        event_id: str,
        attempts: int,
        next_attempt_at: float,
        error: str,
        *,
        node_id: str | None = None,
        endpoint_id: str = DEFAULT_ENDPOINT,
    ) -> bool:
        """Attempt `attempts` failed with `error`; try again at `next_attempt_at`."""
        return self._record_attempt(
            event_id,
            endpoint_id,
            node_id,
            status=OutboxStatus.RETRYING,
            attempts=attempts,
            next_attempt_at=next_attempt_at,
            last_error=error[:ERROR_KEPT],
        )

    def mark_failed(
        self,
        event_id: str,
        attempts: int,
        error: str,
        *,
        node_id: str | None = None,
        endpoint_id: str = DEFAULT_ENDPOINT,
    ) -> bool:
        """Give up after attempt `attempts`: the row is a dead letter."""
        return self._record_attempt(
            event_id, endpoint_id, node_id, status=OutboxStatus.FAILED, attempts=attempts, last_error=error[:ERROR_KEPT]
        )

    def failed(self, limit: int = 100) -> list[dict[str, Any]]:
        """The dead letters, newest first, with their last error."""
        rows = self.core.rows(
            sa.select(*ROW, outbox.c.last_error)
            .where(outbox.c.status == OutboxStatus.FAILED)
            .order_by(outbox.c.created.desc())
            .limit(limit)
        )
        return [_listed(row) for row in rows]

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

    def counts_by_endpoint(self) -> dict[str, dict[str, int]]:
        """Endpoint id -> how many of its rows have each status (only endpoints that have rows)."""
        found: dict[str, dict[str, int]] = {}
        statement = sa.select(outbox.c.endpoint_id, outbox.c.status, sa.func.count().label("n")).group_by(
            outbox.c.endpoint_id, outbox.c.status
        )
        for row in self.core.rows(statement):
            found.setdefault(row.endpoint_id, {status.value: 0 for status in OutboxStatus})[row.status] = int(row.n)
        return found
