"""The system of record: persons, encodings, results, the webhook outbox and runtime config, in SQLite.

WAL mode lets the emitter write results while the API reads them. Every process opens its own
`Store`; inside one process a lock serialises use of the single connection, which is plenty for
the request rates of a control API and keeps concurrent registrations from losing writes.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from facegate.records import ENCODING_SIZE, box_dict, result_dict

log = logging.getLogger(__name__)

DB_NAME = "facegate.db"

SCHEMA = """
CREATE TABLE IF NOT EXISTS persons (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    client_id TEXT,
    image_url TEXT,
    created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS persons_name ON persons(name);
CREATE TABLE IF NOT EXISTS encodings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id INTEGER NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
    vector BLOB NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS encodings_person ON encodings(person_id);
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    timestamp TEXT NOT NULL,
    name TEXT NOT NULL,
    confidence REAL NOT NULL,
    distance REAL NOT NULL,
    box_top INTEGER NOT NULL, box_right INTEGER NOT NULL,
    box_bottom INTEGER NOT NULL, box_left INTEGER NOT NULL,
    camera_id TEXT,
    stream_url TEXT,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS results_name ON results(name, id);
CREATE INDEX IF NOT EXISTS results_created ON results(created);
CREATE TABLE IF NOT EXISTS outbox (
    event_id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    created REAL NOT NULL,
    delivered REAL,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox(status, next_attempt_at);
CREATE TABLE IF NOT EXISTS unknown_faces (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT,
    camera_id TEXT,
    seen_at TEXT NOT NULL,
    created REAL NOT NULL,
    box_top INTEGER, box_right INTEGER, box_bottom INTEGER, box_left INTEGER,
    jpeg BLOB NOT NULL,
    vector BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS config (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

OUTBOX_PENDING = "pending"
OUTBOX_RETRYING = "retrying"
OUTBOX_DELIVERED = "delivered"
OUTBOX_FAILED = "failed"


class StoreError(RuntimeError):
    """The data dir or database cannot be used; the message is meant for a person."""


def iso_now(ts: float | None = None) -> str:
    """ISO-8601 in UTC with milliseconds, as the results carry it."""
    moment = datetime.fromtimestamp(time.time() if ts is None else ts, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_event_id() -> str:
    return "evt_" + uuid.uuid4().hex


def _vector_blob(encoding: Iterable[float]) -> bytes:
    vector = np.asarray(encoding, dtype=np.float64).reshape(-1)
    if vector.shape != (ENCODING_SIZE,) or not np.all(np.isfinite(vector)):
        raise ValueError(f"an encoding is {ENCODING_SIZE} finite numbers")
    return vector.tobytes()


def _row_box(row: sqlite3.Row) -> tuple[int, int, int, int]:
    return row["box_top"], row["box_right"], row["box_bottom"], row["box_left"]


class Store:
    """One SQLite database under the data dir."""

    def __init__(self, data_dir: str | Path) -> None:
        self.data_dir = Path(data_dir)
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"data dir {self.data_dir} cannot be created: {exc.strerror or exc}") from None
        self.path = self.data_dir / DB_NAME
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(self.path, timeout=10.0, check_same_thread=False, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute("PRAGMA busy_timeout=10000")
            self._db.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"database {self.path} cannot be opened for writing: {exc}") from None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction taken up front, so concurrent writers queue instead of failing."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, tuple(params)).fetchall()

    # --- meta -----------------------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0]["value"] if rows else default

    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO meta(key, value) VALUES(?, ?)"
                       " ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))

    def _bump(self, db: sqlite3.Connection, key: str) -> None:
        db.execute(
            "INSERT INTO meta(key, value) VALUES(?, '1') "
            "ON CONFLICT(key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)",
            (key,),
        )

    def gallery_version(self) -> int:
        return int(self.get_meta("gallery_version", "0") or 0)

    def config_version(self) -> int:
        return int(self.get_meta("config_version", "0") or 0)

    # --- persons and encodings --------------------------------------------------------------
    def register(self, name: str, encodings: Iterable[Iterable[float]], *, client_id: str | None = None,
                 image_url: str | None = None) -> int:
        """Add encodings to the person of that name, creating the person first if new; returns its id.

        Registering an existing name adds a photo of the same person, as the old script's
        appended (label, encoding) pairs meant.
        """
        blobs = [_vector_blob(e) for e in encodings]
        if not blobs:
            raise ValueError("at least one encoding is needed")
        now = iso_now()
        with self._tx() as db:
            row = db.execute("SELECT id FROM persons WHERE name = ?", (name,)).fetchone()
            if row is None:
                person_id = db.execute(
                    "INSERT INTO persons(name, client_id, image_url, created_at) VALUES(?, ?, ?, ?)",
                    (name, client_id, image_url, now),
                ).lastrowid
            else:
                person_id = row["id"]
                if client_id is not None or image_url is not None:
                    db.execute(
                        "UPDATE persons SET client_id = COALESCE(?, client_id), image_url = COALESCE(?, image_url)"
                        " WHERE id = ?",
                        (client_id, image_url, person_id),
                    )
            db.executemany("INSERT INTO encodings(person_id, vector, created_at) VALUES(?, ?, ?)",
                           [(person_id, blob, now) for blob in blobs])
            self._bump(db, "gallery_version")
        return int(person_id)

    def add_faces(self, person_id: int, encodings: Iterable[Iterable[float]]) -> int:
        """Add encodings to an existing person; returns how many they now have (0 if no such person)."""
        blobs = [_vector_blob(e) for e in encodings]
        now = iso_now()
        with self._tx() as db:
            if db.execute("SELECT 1 FROM persons WHERE id = ?", (person_id,)).fetchone() is None:
                return 0
            db.executemany("INSERT INTO encodings(person_id, vector, created_at) VALUES(?, ?, ?)",
                           [(person_id, blob, now) for blob in blobs])
            self._bump(db, "gallery_version")
            return int(db.execute("SELECT COUNT(*) FROM encodings WHERE person_id = ?", (person_id,)).fetchone()[0])

    def delete_person(self, person_id: int) -> bool:
        """Remove a person and every encoding of theirs (biometric data must be deletable)."""
        with self._tx() as db:
            db.execute("DELETE FROM encodings WHERE person_id = ?", (person_id,))
            gone = db.execute("DELETE FROM persons WHERE id = ?", (person_id,)).rowcount > 0
            if gone:
                self._bump(db, "gallery_version")
        return gone

    def _person_rows(self, where: str = "", params: tuple = ()) -> list[dict[str, Any]]:
        rows = self._query(
            "SELECT p.id, p.name, p.client_id, p.image_url, p.created_at, COUNT(e.id) AS encodings "
            f"FROM persons p LEFT JOIN encodings e ON e.person_id = p.id {where} GROUP BY p.id ORDER BY p.id",
            params,
        )
        return [dict(row) for row in rows]

    def list_persons(self) -> list[dict[str, Any]]:
        return self._person_rows()

    def get_person(self, person_id: int) -> dict[str, Any] | None:
        rows = self._person_rows("WHERE p.id = ?", (person_id,))
        return rows[0] if rows else None

    def count_persons(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM persons")[0][0])

    def count_encodings(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM encodings")[0][0])

    def gallery(self) -> tuple[np.ndarray, list[str]]:
        """Every known encoding as an (n, 128) array, with the name each one belongs to."""
        rows = self._query(
            "SELECT p.name, e.vector FROM encodings e JOIN persons p ON p.id = e.person_id ORDER BY e.id")
        if not rows:
            return np.zeros((0, ENCODING_SIZE), dtype=np.float64), []
        vectors = np.frombuffer(b"".join(row["vector"] for row in rows), dtype=np.float64)
        return vectors.reshape(len(rows), ENCODING_SIZE).copy(), [row["name"] for row in rows]

    def import_legacy(self, encodings_path: Path, labels_path: Path) -> int:
        """Import the old Flask script's `encodings.npy` + `labels.json` once; returns encodings imported."""
        if self.get_meta("legacy_imported"):
            return 0
        vectors = np.load(encodings_path, allow_pickle=False)
        labels = json.loads(labels_path.read_text())
        if vectors.ndim != 2 or vectors.shape[1] != ENCODING_SIZE or len(labels) != len(vectors):
            raise StoreError(
                f"{encodings_path.name} ({vectors.shape}) and {labels_path.name} ({len(labels)} labels) do not match"
            )
        by_name: dict[str, list[np.ndarray]] = {}
        for label, vector in zip(labels, vectors, strict=True):
            by_name.setdefault(str(label), []).append(vector)
        for name, group in by_name.items():
            self.register(name, group)
        self.set_meta("legacy_imported", iso_now())
        return len(vectors)

    # --- results and the outbox -----------------------------------------------------------
    def add_event(self, event_id: str, result: dict[str, Any], camera_id: str | None, stream_url: str | None,
                  webhook_body: str | None, *, created: float | None = None) -> None:
        """Write a result and (when webhooks are on) its outbox row in one transaction."""
        now = time.time() if created is None else created
        box = result["box"]
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO results(event_id, timestamp, name, confidence, distance, box_top, box_right,"
                " box_bottom, box_left, camera_id, stream_url, created) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
                (event_id, result["timestamp"], result["name"], result["confidence"], result["distance"],
                 box["top"], box["right"], box["bottom"], box["left"], camera_id, stream_url, now),
            )
            if webhook_body is not None:
                db.execute(
                    "INSERT OR IGNORE INTO outbox(event_id, body, status, attempts, next_attempt_at, created)"
                    " VALUES(?, ?, ?, 0, ?, ?)",
                    (event_id, webhook_body, OUTBOX_PENDING, now, now),
                )

    @staticmethod
    def _result(row: sqlite3.Row) -> dict[str, Any]:
        return {
            **result_dict(row["timestamp"], row["name"], row["distance"], _row_box(row)),
            "confidence": row["confidence"],  # as stored (the same rounding, written by the match stage)
            "camera_id": row["camera_id"],
            "event_id": row["event_id"],
        }

    def results(self, limit: int = 100, name: str | None = None) -> list[dict[str, Any]]:
        if name is None:
            rows = self._query("SELECT * FROM results ORDER BY id DESC LIMIT ?", (limit,))
        else:
            rows = self._query("SELECT * FROM results WHERE name = ? ORDER BY id DESC LIMIT ?", (name, limit))
        return [self._result(row) for row in rows]

    def latest(self) -> dict[str, Any] | None:
        found = self.results(1)
        return found[0] if found else None

    def count_results(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM results")[0][0])

    def counts_by_name(self) -> dict[str, int]:
        return {row["name"]: row["n"] for row in self._query("SELECT name, COUNT(*) AS n FROM results GROUP BY name")}

    def prune_results(self, older_than: float) -> int:
        with self._tx() as db:
            return db.execute("DELETE FROM results WHERE created < ?", (older_than,)).rowcount

    def due_deliveries(self, now: float, limit: int = 20) -> list[dict[str, Any]]:
        rows = self._query(
            "SELECT event_id, body, attempts, created FROM outbox WHERE status IN (?, ?) AND next_attempt_at <= ?"
            " ORDER BY next_attempt_at LIMIT ?",
            (OUTBOX_PENDING, OUTBOX_RETRYING, now, limit),
        )
        return [dict(row) for row in rows]

    def next_delivery_at(self) -> float | None:
        rows = self._query("SELECT MIN(next_attempt_at) FROM outbox WHERE status IN (?, ?)",
                           (OUTBOX_PENDING, OUTBOX_RETRYING))
        return rows[0][0] if rows else None

    def mark_delivered(self, event_id: str, attempts: int, when: float) -> None:
        with self._tx() as db:
            db.execute("UPDATE outbox SET status = ?, attempts = ?, delivered = ?, last_error = NULL"
                       " WHERE event_id = ?", (OUTBOX_DELIVERED, attempts, when, event_id))

    def mark_retry(self, event_id: str, attempts: int, next_attempt_at: float, error: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE outbox SET status = ?, attempts = ?, next_attempt_at = ?, last_error = ?"
                       " WHERE event_id = ?", (OUTBOX_RETRYING, attempts, next_attempt_at, error[:500], event_id))

    def mark_failed(self, event_id: str, attempts: int, error: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE outbox SET status = ?, attempts = ?, last_error = ? WHERE event_id = ?",
                       (OUTBOX_FAILED, attempts, error[:500], event_id))

    def failed_deliveries(self, limit: int = 100) -> list[dict[str, Any]]:
        rows = self._query(
            "SELECT event_id, body, attempts, created, last_error FROM outbox WHERE status = ? ORDER BY created DESC"
            " LIMIT ?",
            (OUTBOX_FAILED, limit),
        )
        return [dict(row) for row in rows]

    def retry_failed(self, now: float | None = None) -> int:
        """Put dead letters back in line for delivery, with a fresh attempt budget."""
        with self._tx() as db:
            return db.execute(
                "UPDATE outbox SET status = ?, attempts = 0, next_attempt_at = ? WHERE status = ?",
                (OUTBOX_PENDING, time.time() if now is None else now, OUTBOX_FAILED),
            ).rowcount

    def delivery_latencies(self, limit: int = 500) -> list[float]:
        """Seconds from event to successful delivery, for the most recent deliveries."""
        rows = self._query("SELECT delivered - created FROM outbox WHERE status = ? ORDER BY delivered DESC LIMIT ?",
                           (OUTBOX_DELIVERED, limit))
        return [float(row[0]) for row in rows]

    def outbox_counts(self) -> dict[str, int]:
        counts = {OUTBOX_PENDING: 0, OUTBOX_RETRYING: 0, OUTBOX_DELIVERED: 0, OUTBOX_FAILED: 0}
        for row in self._query("SELECT status, COUNT(*) AS n FROM outbox GROUP BY status"):
            counts[row["status"]] = row["n"]
        return counts

    # --- unknown faces ------------------------------------------------------------------------
    UNKNOWN_KEEP_S = 7 * 86400.0
    UNKNOWN_KEEP_ROWS = 500

    def add_unknown(self, event_id: str, camera_id: str, captured_at: float, box: Iterable[int], jpeg: bytes,
                    encoding: Iterable[float]) -> int:
        """Keep an unknown face's crop and encoding (a week, 500 at most) so an operator can name them."""
        top, right, bottom, left = (int(v) for v in box)
        with self._tx() as db:
            row_id = db.execute(
                "INSERT INTO unknown_faces(event_id, camera_id, seen_at, created, box_top, box_right, box_bottom,"
                " box_left, jpeg, vector) VALUES(?,?,?,?,?,?,?,?,?,?)",
                (event_id, camera_id, iso_now(captured_at), captured_at, top, right, bottom, left, jpeg,
                 _vector_blob(encoding)),
            ).lastrowid
            db.execute("DELETE FROM unknown_faces WHERE created < ? OR id <= ?",
                       (time.time() - self.UNKNOWN_KEEP_S, row_id - self.UNKNOWN_KEEP_ROWS))
        return int(row_id)

    def list_unknown(self, limit: int = 100) -> list[dict[str, Any]]:
        rows = self._query("SELECT id, event_id, camera_id, seen_at, box_top, box_right, box_bottom, box_left"
                           " FROM unknown_faces ORDER BY id DESC LIMIT ?", (limit,))
        return [{"id": r["id"], "event_id": r["event_id"], "camera_id": r["camera_id"], "seen_at": r["seen_at"],
                 "box": box_dict(_row_box(r))} for r in rows]

    def get_unknown(self, unknown_id: int) -> dict[str, Any] | None:
        rows = self._query("SELECT id, camera_id, seen_at, jpeg, vector FROM unknown_faces WHERE id = ?", (unknown_id,))
        if not rows:
            return None
        row = rows[0]
        return {"id": row["id"], "camera_id": row["camera_id"], "seen_at": row["seen_at"], "jpeg": bytes(row["jpeg"]),
                "encoding": np.frombuffer(row["vector"], dtype=np.float64).copy()}

    def delete_unknown(self, unknown_id: int) -> bool:
        with self._tx() as db:
            return db.execute("DELETE FROM unknown_faces WHERE id = ?", (unknown_id,)).rowcount > 0

    # --- runtime config -----------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        return {row["key"]: json.loads(row["value"]) for row in self._query("SELECT key, value FROM config")}

    def set_config(self, updates: dict[str, Any]) -> None:
        if not updates:
            return
        with self._tx() as db:
            db.executemany(
                "INSERT INTO config(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [(key, json.dumps(value)) for key, value in updates.items()],
            )
            self._bump(db, "config_version")
