"""The audit trail: every change made through the API, who made it and from where, append-only.

One row per change (register, delete, rename, config, cameras, webhook retry, ...) with its time,
the scope the caller had (admin, or "open" when no token is set), the client address and what
changed (secrets masked). SQLite triggers refuse any UPDATE, and any DELETE of a row younger
than a day, so the table can only grow; `audit_retention_days` (not `retention_days`, which is
for results) prunes rows older than that, 0 keeping them forever. It lives in the store's
database file but opens its own connection, so the store's code needs to know nothing of it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from facegate.redact import redact_json
from facegate.store import iso_now

DAY_S = 86400.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    time TEXT NOT NULL,
    scope TEXT NOT NULL,
    client TEXT,
    action TEXT NOT NULL,
    target TEXT,
    details TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_at ON audit(at);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_early_delete BEFORE DELETE ON audit
WHEN old.at > CAST(strftime('%s', 'now') AS REAL) - 86400
BEGIN SELECT RAISE(ABORT, 'audit rows younger than a day cannot be deleted'); END;
"""


@dataclass(frozen=True)
class AuditEntry:
    """One change: `action` like "person.delete", `target` the thing changed (a person id, a camera id)."""

    scope: str
    client: str | None
    action: str
    target: str | None
    details: dict[str, Any]


class AuditTrail:
    """Append and list audit rows in `db_path`; `retention_days()` is read at every append."""

    def __init__(self, db_path: str | Path, retention_days: Callable[[], int]) -> None:
        self._retention_days = retention_days
        self._lock = threading.Lock()
        self._db = sqlite3.connect(db_path, timeout=10.0, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.executescript(SCHEMA)

    def record(self, entry: AuditEntry) -> int:
        """Append one row (details masked of URL passwords) and drop rows past the retention; returns its id."""
        now = time.time()
        details = json.dumps(redact_json(entry.details), default=str, sort_keys=True)
        days = int(self._retention_days() or 0)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row_id = self._db.execute(
                    "INSERT INTO audit(at, time, scope, client, action, target, details) VALUES(?,?,?,?,?,?,?)",
                    (now, iso_now(now), entry.scope, entry.client, entry.action, entry.target, details),
                ).lastrowid
                if days > 0:
                    self._db.execute("DELETE FROM audit WHERE at < ?", (now - max(days, 1) * DAY_S,))
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return int(row_id)

    def list(self, limit: int = 100, action: str | None = None) -> list[dict[str, Any]]:
        """Newest first."""
        where, params = ("WHERE action = ?", [action]) if action else ("", [])
        with self._lock:
            rows = self._db.execute(f"SELECT * FROM audit {where} ORDER BY id DESC LIMIT ?",
                                    (*params, limit)).fetchall()
        return [{"id": r["id"], "time": r["time"], "scope": r["scope"], "client": r["client"], "action": r["action"],
                 "target": r["target"], "details": json.loads(r["details"])} for r in rows]

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM audit").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
