"""The system of record: persons, encodings, results, the webhook outbox and runtime config.

SQLite in the data dir (WAL, so the emitter writes while the API reads) for one machine, or
PostgreSQL (`FACEGATE_DATABASE_URL`) when several machines share one store. The SQL is written
once with SQLAlchemy Core and runs on both; the schema is brought up to date by the migrations
in `facegate/db` when a store opens. Every process opens its own `Store`, with its own pool.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from facegate.db import engine as dbengine
from facegate.db.migrate import upgrade
from facegate.db.schema import config, meta, negatives, outbox, persons, results, unknown_faces
from facegate.db.schema import encodings as encodings_table
from facegate.records import ENCODING_SIZE, box_dict, result_dict
from facegate.store_gallery import GalleryRecords
from facegate.store_sightings import Sighting, SightingRecords
from facegate.store_visitors import VisitorRecords

log = logging.getLogger(__name__)

DB_NAME = "facegate.db"

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


OPEN_STATUSES = (OUTBOX_PENDING, OUTBOX_RETRYING)
CLAIM_FREE = {"claimed_by": None, "claimed_until": None}


def _row_box(row: sa.Row) -> tuple[int, int, int, int]:
    return row.box_top, row.box_right, row.box_bottom, row.box_left


class Store(GalleryRecords, SightingRecords, VisitorRecords):
    """The store of one data dir: SQLite there, or the PostgreSQL database of `database_url`.

    `database_url` None reads `FACEGATE_DATABASE_URL`; "" (or unset) is SQLite in the data dir.
    """

    def __init__(self, data_dir: str | Path, database_url: str | None = None) -> None:
        self.data_dir = Path(data_dir)
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"data dir {self.data_dir} cannot be created: {exc.strerror or exc}") from None
        given = dbengine.configured_url(database_url)
        try:
            self.url = dbengine.parse_url(given) if given else dbengine.sqlite_url(self.data_dir / DB_NAME)
        except ValueError as exc:
            raise StoreError(str(exc)) from None
        self.path = Path(self.url.database) if self.url.get_backend_name() == "sqlite" and self.url.database else None
        self._engine = dbengine.create_engine(self.url)
        self._writer = self._engine.execution_options(write=True)
        self.backend = self._engine.dialect.name
        try:
            upgrade(self._engine)
        except sa.exc.SQLAlchemyError as exc:
            self._engine.dispose()
            reason = " ".join(str(getattr(exc, "orig", None) or exc).split())
            if self.path:
                raise StoreError(f"database {self.path} cannot be opened for writing: {reason}") from None
            raise StoreError(f"database {dbengine.shown(self.url)} cannot be used: {reason}") from None

    def describe(self) -> str:
        """Where the data lives, for logs (no password)."""
        return f"SQLite {self.path}" if self.path else f"PostgreSQL {dbengine.shown(self.url)}"

    @property
    def shown_url(self) -> str | None:
        """The PostgreSQL URL without its password; None for SQLite in the data dir."""
        return None if self.path else dbengine.shown(self.url)

    @property
    def engine(self) -> Engine:
        """The store's engine, for a module that keeps its own table in the same database (the audit trail)."""
        return self._engine

    def close(self) -> None:
        self._engine.dispose()

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        """A write transaction (on SQLite taken up front, so concurrent writers queue instead of failing)."""
        with self._writer.begin() as connection:
            yield connection

    def _rows(self, statement: sa.Executable) -> list[sa.Row]:
        with self._engine.connect() as connection:
            return list(connection.execute(statement).all())

    def _scalar(self, statement: sa.Executable) -> Any:
        with self._engine.connect() as connection:
            return connection.execute(statement).scalar()

    def _insert(self, table: sa.Table) -> Any:
        """An INSERT with ON CONFLICT support in this backend's dialect."""
        return (postgresql.insert if self.backend == "postgresql" else sqlite.insert)(table)

    def _upsert(self, table: sa.Table) -> Any:
        """INSERT (key, value) ... ON CONFLICT(key) DO UPDATE SET value = the new value."""
        statement = self._insert(table)
        return statement.on_conflict_do_update(index_elements=["key"], set_={"value": statement.excluded.value})

    # --- meta -----------------------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        found = self._scalar(sa.select(meta.c.value).where(meta.c.key == key))
        return default if found is None else found

    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as db:
            db.execute(self._upsert(meta), {"key": key, "value": value})

    def shared_secret(self, key: str) -> str:
        """A random hex secret kept under `key` in the database: made by the first node to ask, the same for
        every node after (so a URL one node signs is good on another)."""
        with self._tx() as db:
            db.execute(self._insert(meta).values(key=key, value=secrets.token_hex(32))
                       .on_conflict_do_nothing(index_elements=["key"]))
            return str(db.execute(sa.select(meta.c.value).where(meta.c.key == key)).scalar_one())

    def _bump(self, db: Connection, key: str) -> None:
        """Move a version counter; on PostgreSQL also NOTIFY `facegate_<key>` at commit, so the other nodes'
        listeners (facegate/db/listen.py) reload at once instead of at their next poll."""
        bumped = sa.cast(sa.cast(meta.c.value, sa.Integer) + 1, sa.Text)
        db.execute(self._insert(meta).values(key=key, value="1")
                   .on_conflict_do_update(index_elements=["key"], set_={"value": bumped}))
        if self.backend == "postgresql":
            db.execute(sa.text("SELECT pg_notify(:channel, '')"), {"channel": f"facegate_{key}"})

    def gallery_version(self) -> int:
        return int(self.get_meta("gallery_version", "0") or 0)

    def config_version(self) -> int:
        return int(self.get_meta("config_version", "0") or 0)

    # --- persons and encodings --------------------------------------------------------------
    def register(self, name: str, encodings: Iterable[Iterable[float]], *, client_id: str | None = None,
                 image_url: str | None = None, crops: list[bytes | None] | None = None) -> int:
        """Add encodings to the person of that name, creating the person first if new; returns its id.

        Registering an existing name adds a photo of the same person, as the old script's
        appended (label, encoding) pairs meant. Two nodes registering one new name at once get
        one person: the insert yields to the other's on the unique name.
        """
        blobs = [_vector_blob(e) for e in encodings]
        if not blobs:
            raise ValueError("at least one encoding is needed")
        now = iso_now()
        with self._tx() as db:
            person_id = db.execute(
                self._insert(persons).values(name=name, client_id=client_id, image_url=image_url, created_at=now)
                .on_conflict_do_nothing(index_elements=["name"]).returning(persons.c.id)
            ).scalar()
            if person_id is None:
                person_id = db.execute(sa.select(persons.c.id).where(persons.c.name == name)).scalar_one()
                if client_id is not None or image_url is not None:
                    db.execute(sa.update(persons).where(persons.c.id == person_id).values(
                        client_id=sa.func.coalesce(client_id, persons.c.client_id),
                        image_url=sa.func.coalesce(image_url, persons.c.image_url)))
            self._add_vectors(db, person_id, blobs, now, crops)
        return int(person_id)

    def _add_vectors(self, db: Connection, person_id: int, blobs: list[bytes], now: str,
                     crops: list[bytes | None] | None = None) -> None:
        crops = crops or [None] * len(blobs)
        rows = [{"person_id": person_id, "vector": blob, "jpeg": crop, "created_at": now}
                for blob, crop in zip(blobs, crops, strict=True)]
        db.execute(sa.insert(encodings_table), rows)
        self._bump(db, "gallery_version")

    def add_faces(self, person_id: int, encodings: Iterable[Iterable[float]],
                  crops: list[bytes | None] | None = None) -> int:
        """Add encodings (with the face crop of each, when known) to an existing person; returns how many they
        now have (0 if no such person)."""
        blobs = [_vector_blob(e) for e in encodings]
        now = iso_now()
        with self._tx() as db:
            if db.execute(sa.select(persons.c.id).where(persons.c.id == person_id)).first() is None:
                return 0
            self._add_vectors(db, person_id, blobs, now, crops)
            mine = encodings_table.c.person_id == person_id
            return int(db.execute(sa.select(sa.func.count()).select_from(encodings_table).where(mine)).scalar_one())

    def delete_person(self, person_id: int) -> bool:
        """Remove a person with every encoding, crop, negative and result of theirs (biometric data must be
        deletable)."""
        with self._tx() as db:
            name = db.execute(sa.select(persons.c.name).where(persons.c.id == person_id)).scalar()
            db.execute(sa.delete(encodings_table).where(encodings_table.c.person_id == person_id))
            db.execute(sa.delete(negatives).where(negatives.c.person_id == person_id))
            gone = db.execute(sa.delete(persons).where(persons.c.id == person_id)).rowcount > 0
            if gone:
                db.execute(sa.delete(results).where(results.c.name == name))
                self._bump(db, "gallery_version")
                self._bump(db, "sightings_version")
        return gone

    def _person_rows(self, person_id: int | None = None) -> list[dict[str, Any]]:
        statement = (
            sa.select(persons.c.id, persons.c.name, persons.c.client_id, persons.c.image_url, persons.c.created_at,
                      sa.func.count(encodings_table.c.id).label("encodings"))
            .select_from(persons.outerjoin(encodings_table, encodings_table.c.person_id == persons.c.id))
            .group_by(persons.c.id).order_by(persons.c.id)
        )
        if person_id is not None:
            statement = statement.where(persons.c.id == person_id)
        return [dict(row._mapping) for row in self._rows(statement)]

    def list_persons(self) -> list[dict[str, Any]]:
        return self._person_rows()

    def get_person(self, person_id: int) -> dict[str, Any] | None:
        rows = self._person_rows(person_id)
        return rows[0] if rows else None

    def _count(self, table: sa.Table) -> int:
        return int(self._scalar(sa.select(sa.func.count()).select_from(table)))

    def count_persons(self) -> int:
        return self._count(persons)

    def count_encodings(self) -> int:
        return self._count(encodings_table)

    def gallery(self) -> tuple[np.ndarray, list[str]]:
        """Every known encoding as an (n, 128) array, with the name each one belongs to."""
        rows = self._rows(sa.select(persons.c.name, encodings_table.c.vector)
                          .select_from(encodings_table.join(persons, persons.c.id == encodings_table.c.person_id))
                          .order_by(encodings_table.c.id))
        if not rows:
            return np.zeros((0, ENCODING_SIZE), dtype=np.float64), []
        vectors = np.frombuffer(b"".join(bytes(row.vector) for row in rows), dtype=np.float64)
        return vectors.reshape(len(rows), ENCODING_SIZE).copy(), [row.name for row in rows]

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
                  webhook_body: str | None, *, created: float | None = None, sighting: Sighting | None = None) -> None:
        """Write a result (with the sighting's encoding, crop and visitor) and, when webhooks are on, its outbox
        row in one transaction."""
        sighting = sighting or Sighting()
        now = time.time() if created is None else created
        box = result["box"]
        with self._tx() as db:
            db.execute(self._insert(results).values(
                event_id=event_id, timestamp=result["timestamp"], name=result["name"],
                confidence=result["confidence"], distance=result["distance"], box_top=box["top"],
                box_right=box["right"], box_bottom=box["bottom"], box_left=box["left"], camera_id=camera_id,
                stream_url=stream_url, created=now,
                vector=None if sighting.encoding is None else _vector_blob(sighting.encoding), jpeg=sighting.jpeg,
                visitor_id=sighting.visitor_id,
            ).on_conflict_do_nothing(index_elements=["event_id"]))
            if sighting.visitor_id is not None:
                self.count_sighting(db, sighting.visitor_id, camera_id, now)
            if webhook_body is not None:
                db.execute(self._insert(outbox).values(
                    event_id=event_id, body=webhook_body, status=OUTBOX_PENDING, attempts=0, next_attempt_at=now,
                    created=now,
                ).on_conflict_do_nothing(index_elements=["event_id"]))

    @staticmethod
    def _result(row: sa.Row) -> dict[str, Any]:
        return {
            **result_dict(row.timestamp, row.name, row.distance, _row_box(row)),
            "confidence": row.confidence,  # as stored (the same rounding, written by the match stage)
            "camera_id": row.camera_id,
            "event_id": row.event_id,
            **({"visitor_id": int(row.visitor_id)} if row.visitor_id is not None else {}),
        }

    def results(self, limit: int = 100, name: str | None = None) -> list[dict[str, Any]]:
        statement = sa.select(results).order_by(results.c.id.desc()).limit(limit)
        if name is not None:
            statement = statement.where(results.c.name == name)
        return [self._result(row) for row in self._rows(statement)]

    def latest(self) -> dict[str, Any] | None:
        found = self.results(1)
        return found[0] if found else None

    def count_results(self) -> int:
        return self._count(results)

    def counts_by_name(self) -> dict[str, int]:
        rows = self._rows(sa.select(results.c.name, sa.func.count().label("n")).group_by(results.c.name))
        return {row.name: int(row.n) for row in rows}

    def last_events(self, camera_id: str, since: float) -> dict[str, float]:
        """Name -> when (epoch s) its newest event on this camera was written, for events since `since`:
        what a node taking the camera over needs to keep the event cooldown."""
        rows = self._rows(sa.select(results.c.name, sa.func.max(results.c.created).label("at"))
                          .where(results.c.camera_id == camera_id, results.c.created >= since)
                          .group_by(results.c.name))
        return {row.name: float(row.at) for row in rows}

    def prune_results(self, older_than: float) -> int:
        with self._tx() as db:
            removed = db.execute(sa.delete(results).where(results.c.created < older_than)).rowcount
            if removed:
                self._bump(db, "sightings_version")
            return removed

    @staticmethod
    def _due(now: float) -> sa.ColumnElement[bool]:
        """Open, due, and not held by a live claim."""
        return sa.and_(outbox.c.status.in_(OPEN_STATUSES), outbox.c.next_attempt_at <= now,
                       sa.or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until <= now))

    def due_deliveries(self, now: float, limit: int = 20) -> list[dict[str, Any]]:
        """Deliveries to attempt now, oldest due first (a single emitter's view; several nodes claim)."""
        rows = self._rows(sa.select(outbox.c.event_id, outbox.c.body, outbox.c.attempts, outbox.c.created)
                          .where(self._due(now)).order_by(outbox.c.next_attempt_at).limit(limit))
        return [dict(row._mapping) for row in rows]

    def claim_deliveries(self, node_id: str, now: float, limit: int = 20,
                         lease_s: float = 60.0) -> list[dict[str, Any]]:
        """Take up to `limit` due deliveries for `node_id` until `now + lease_s`; returns them, oldest due first.

        On PostgreSQL the due rows are locked with FOR UPDATE SKIP LOCKED, so claimers on other
        nodes pass over them instead of waiting, and never take the same row; on SQLite the
        write transaction itself is exclusive. A claim that is not settled (mark_delivered,
        mark_retry, mark_failed) before its lease ends is due again for anyone: the node died.
        """
        with self._tx() as db:
            chosen = db.execute(sa.select(outbox.c.event_id).where(self._due(now)).order_by(outbox.c.next_attempt_at)
                                .limit(limit).with_for_update(skip_locked=True)).scalars().all()
            if not chosen:
                return []
            claimed = db.execute(
                sa.update(outbox).where(outbox.c.event_id.in_(chosen))
                .values(claimed_by=node_id, claimed_until=now + lease_s)
                .returning(outbox.c.event_id, outbox.c.body, outbox.c.attempts, outbox.c.created)
            ).all()
        order = {event_id: i for i, event_id in enumerate(chosen)}
        return sorted((dict(row._mapping) for row in claimed), key=lambda row: order[row["event_id"]])

    def get_delivery(self, event_id: str) -> dict[str, Any] | None:
        """One outbox row as stored, claim included."""
        rows = self._rows(sa.select(outbox).where(outbox.c.event_id == event_id))
        return dict(rows[0]._mapping) if rows else None

    def next_delivery_at(self) -> float | None:
        """When the next open row is due: its retry time, or the end of another node's claim on it."""
        claim_end = sa.func.coalesce(outbox.c.claimed_until, outbox.c.next_attempt_at)
        due_at = sa.case((claim_end > outbox.c.next_attempt_at, claim_end), else_=outbox.c.next_attempt_at)
        return self._scalar(sa.select(sa.func.min(due_at)).where(outbox.c.status.in_(OPEN_STATUSES)))

    def _settle(self, event_id: str, node_id: str | None, **values: Any) -> bool:
        """Write an attempt's outcome; with `node_id`, only while that node's claim still stands (a
        claim that ran out and was taken by another node is that node's to settle). True if written."""
        mine = outbox.c.event_id == event_id
        if node_id is not None:
            mine = sa.and_(mine, sa.or_(outbox.c.claimed_by == node_id, outbox.c.claimed_by.is_(None)))
        with self._tx() as db:
            return db.execute(sa.update(outbox).where(mine).values(**values, **CLAIM_FREE)).rowcount > 0

    def mark_delivered(self, event_id: str, attempts: int, when: float, *, node_id: str | None = None) -> bool:
        return self._settle(event_id, node_id, status=OUTBOX_DELIVERED, attempts=attempts, delivered=when,
                            last_error=None)

    def mark_retry(self, event_id: str, attempts: int, next_attempt_at: float, error: str, *,
                   node_id: str | None = None) -> bool:
        return self._settle(event_id, node_id, status=OUTBOX_RETRYING, attempts=attempts,
                            next_attempt_at=next_attempt_at, last_error=error[:500])

    def mark_failed(self, event_id: str, attempts: int, error: str, *, node_id: str | None = None) -> bool:
        return self._settle(event_id, node_id, status=OUTBOX_FAILED, attempts=attempts, last_error=error[:500])

    def failed_deliveries(self, limit: int = 100) -> list[dict[str, Any]]:
        rows = self._rows(sa.select(outbox.c.event_id, outbox.c.body, outbox.c.attempts, outbox.c.created,
                                    outbox.c.last_error)
                          .where(outbox.c.status == OUTBOX_FAILED).order_by(outbox.c.created.desc()).limit(limit))
        return [dict(row._mapping) for row in rows]

    def retry_failed(self, now: float | None = None) -> int:
        """Put dead letters back in line for delivery, with a fresh attempt budget."""
        with self._tx() as db:
            return db.execute(sa.update(outbox).where(outbox.c.status == OUTBOX_FAILED).values(
                status=OUTBOX_PENDING, attempts=0, next_attempt_at=time.time() if now is None else now, **CLAIM_FREE,
            )).rowcount

    def delivery_latencies(self, limit: int = 500) -> list[float]:
        """Seconds from event to successful delivery, for the most recent deliveries."""
        rows = self._rows(sa.select(outbox.c.delivered - outbox.c.created).where(outbox.c.status == OUTBOX_DELIVERED)
                          .order_by(outbox.c.delivered.desc()).limit(limit))
        return [float(row[0]) for row in rows]

    def outbox_counts(self) -> dict[str, int]:
        counts = {OUTBOX_PENDING: 0, OUTBOX_RETRYING: 0, OUTBOX_DELIVERED: 0, OUTBOX_FAILED: 0}
        for row in self._rows(sa.select(outbox.c.status, sa.func.count().label("n")).group_by(outbox.c.status)):
            counts[row.status] = int(row.n)
        return counts

    # --- unknown faces ------------------------------------------------------------------------
    UNKNOWN_KEEP_S = 7 * 86400.0
    UNKNOWN_KEEP_ROWS = 500

    def add_unknown(self, event_id: str, camera_id: str, captured_at: float, box: Iterable[int], jpeg: bytes,
                    encoding: Iterable[float]) -> int:
        """Keep an unknown face's crop and encoding (a week, 500 at most) so an operator can name them."""
        top, right, bottom, left = (int(v) for v in box)
        with self._tx() as db:
            row_id = int(db.execute(sa.insert(unknown_faces).values(
                event_id=event_id, camera_id=camera_id, seen_at=iso_now(captured_at), created=captured_at,
                box_top=top, box_right=right, box_bottom=bottom, box_left=left, jpeg=jpeg,
                vector=_vector_blob(encoding),
            ).returning(unknown_faces.c.id)).scalar_one())
            db.execute(sa.delete(unknown_faces).where(sa.or_(
                unknown_faces.c.created < time.time() - self.UNKNOWN_KEEP_S,
                unknown_faces.c.id <= row_id - self.UNKNOWN_KEEP_ROWS)))
        return row_id

    def list_unknown(self, limit: int = 100) -> list[dict[str, Any]]:
        u = unknown_faces.c
        rows = self._rows(sa.select(u.id, u.event_id, u.camera_id, u.seen_at, u.box_top, u.box_right, u.box_bottom,
                                    u.box_left).order_by(u.id.desc()).limit(limit))
        return [{"id": r.id, "event_id": r.event_id, "camera_id": r.camera_id, "seen_at": r.seen_at,
                 "box": box_dict(_row_box(r))} for r in rows]

    def get_unknown(self, unknown_id: int) -> dict[str, Any] | None:
        u = unknown_faces.c
        rows = self._rows(sa.select(u.id, u.camera_id, u.seen_at, u.jpeg, u.vector).where(u.id == unknown_id))
        if not rows:
            return None
        row = rows[0]
        return {"id": row.id, "camera_id": row.camera_id, "seen_at": row.seen_at, "jpeg": bytes(row.jpeg),
                "encoding": np.frombuffer(bytes(row.vector), dtype=np.float64).copy()}

    def delete_unknown(self, unknown_id: int) -> bool:
        with self._tx() as db:
            return db.execute(sa.delete(unknown_faces).where(unknown_faces.c.id == unknown_id)).rowcount > 0

    # --- runtime config -----------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        return {row.key: json.loads(row.value) for row in self._rows(sa.select(config.c.key, config.c.value))}

    def set_config(self, updates: dict[str, Any]) -> None:
        if not updates:
            return
        with self._tx() as db:
            rows = [{"key": key, "value": json.dumps(value)} for key, value in updates.items()]
            db.execute(self._upsert(config), rows)
            self._bump(db, "config_version")
