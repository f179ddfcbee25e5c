"""The audit trail: every change made through the API, who made it and from where, append-only.

One row per change (register, delete, rename, config, cameras, webhook retry, ...) with its time,
the scope the caller had (admin, or "open" when no token is set), the client address and what
changed (secrets masked). Triggers (migration 0003, on SQLite and PostgreSQL alike) refuse any
UPDATE, and any DELETE of a row younger than a day, so the table can only grow;
`audit_retention_days` (not `retention_days`, which is for results) prunes rows older than that,
0 keeping them forever. The table lives in the store's database, through the store's engine, so
the store's code needs to know nothing of it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from facegate.db.schema import audit
from facegate.redact import redact
from facegate.store import iso_now

DAY_S = 86400.0


@dataclass(frozen=True)
class AuditEntry:
    """One change: `action` like "person.delete", `target` the thing changed (a person id, a camera id)."""

    scope: str
    client: str | None
    action: str
    target: str | None
    details: dict[str, Any]


class AuditTrail:
    """Append and list audit rows in the store's database; `retention_days()` is read at every append."""

    def __init__(self, engine: Engine, retention_days: Callable[[], int]) -> None:
        self._retention_days = retention_days
        self._engine = engine
        self._writer = engine.execution_options(write=True)

    def record(self, entry: AuditEntry, connection: Connection | None = None) -> int:
        """Append one row (details masked of URL passwords) and drop rows past the retention; returns its id.

        Given the `connection` of the change's transaction, the row commits (or rolls back) with the change."""
        if connection is None:
            with self._writer.begin() as own:
                return self.record(entry, own)
        now = time.time()
        details = json.dumps(redact(entry.details), default=str, sort_keys=True)
        days = int(self._retention_days() or 0)
        row_id = connection.execute(
            audit.insert()
            .values(
                at=now,
                time=iso_now(now),
                scope=entry.scope,
                client=entry.client,
                action=entry.action,
                target=entry.target,
                details=details,
            )
            .returning(audit.c.id)
        ).scalar_one()
        if days > 0:
            connection.execute(audit.delete().where(audit.c.at < now - max(days, 1) * DAY_S))
        return int(row_id)

    def list(self, limit: int = 100, action: str | None = None) -> list[dict[str, Any]]:
        """Newest first."""
        query = sa.select(audit).order_by(audit.c.id.desc()).limit(limit)
        if action:
            query = query.where(audit.c.action == action)
        with self._engine.connect() as connection:
            rows = connection.execute(query).all()
        return [
            {
                "id": r.id,
                "time": r.time,
                "scope": r.scope,
                "client": r.client,
                "action": r.action,
                "target": r.target,
                "details": json.loads(r.details),
            }
            for r in rows
        ]

    def count(self) -> int:
        with self._engine.connect() as connection:
            return int(connection.execute(sa.select(sa.func.count()).select_from(audit)).scalar_one())
