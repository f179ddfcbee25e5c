"""The store's core: the engine, transactions, the meta table and the helpers every kind of record shares.

Each kind of record (facegate/store/*.py) is a class built on one `StoreCore`; none of them
reaches another's tables through a private name. The core opens the database (SQLite in the
data dir, or PostgreSQL), brings its schema up to date (facegate/db/migrations), and keeps the
version counters in `meta` that the stages and the API watch to reload what changed.
"""

from __future__ import annotations

import os
import secrets
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
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
from facegate.db.schema import meta
from facegate.records import ENCODING_SIZE, Box, result_dict
from facegate.store.unit_of_work import UnitOfWork, current_unit, enter_unit, leave_unit

DB_NAME = "facegate.db"

# The version counters in `meta`: each moves when what its watchers hold goes stale.
GALLERY_VERSION = "gallery_version"  # who the match stage would name (persons, encodings, negatives)
SIGHTINGS_VERSION = "sightings_version"  # the stored results search by photo reads (a delete, prune, relabel)
VISITORS_VERSION = "visitors_version"  # the visitors the match stage joins unknown tracks to
CONFIG_VERSION = "config_version"  # the runtime config


class StoreError(RuntimeError):
    """The data dir or database cannot be used; the message is meant for a person."""


def iso_now(ts: float | None = None) -> str:
    """ISO-8601 in UTC with milliseconds, as the results carry it."""
    moment = datetime.fromtimestamp(time.time() if ts is None else ts, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_event_id() -> str:
    """A fresh event id (`evt_` and 32 hex digits), the key of a result and its webhook."""
    return "evt_" + uuid.uuid4().hex


def vector_blob(encoding: Iterable[float]) -> bytes:
    """An encoding as stored: 128 finite float64 numbers; ValueError for anything else."""
    vector = np.asarray(encoding, dtype=np.float64).reshape(-1)
    if vector.shape != (ENCODING_SIZE,) or not np.all(np.isfinite(vector)):
        raise ValueError(f"an encoding is {ENCODING_SIZE} finite numbers")
    return vector.tobytes()


def vector_of(blob: bytes) -> np.ndarray:
    """One stored encoding back as a (128,) float64 array."""
    return np.frombuffer(bytes(blob), dtype=np.float64).copy()


def vectors_of(blobs: list[bytes]) -> np.ndarray:
    """Stored encodings (128 float64 each) as an (n, 128) array."""
    if not blobs:
        return np.zeros((0, ENCODING_SIZE))
    return np.frombuffer(b"".join(bytes(b) for b in blobs), dtype=np.float64).reshape(len(blobs), ENCODING_SIZE).copy()


def row_box(row: sa.Row[Any]) -> Box:
    """The (top, right, bottom, left) columns of a results or unknown_faces row."""
    return row.box_top, row.box_right, row.box_bottom, row.box_left


def stored_result(row: sa.Row[Any]) -> dict[str, Any]:
    """A `results` row as the API shows it (with its visitor, when it has one)."""
    return {
        **result_dict(row.timestamp, row.name, row.distance, row_box(row)),
        "confidence": row.confidence,  # as stored (the same rounding, written by the match stage)
        "camera_id": row.camera_id,
        "event_id": row.event_id,
        **({"visitor_id": int(row.visitor_id)} if row.visitor_id is not None else {}),
    }


def _owner_only(path: Path) -> None:
    """Create the SQLite file readable by its owner only (SQLite gives its -wal and -shm files the same mode),
    and take back the group's and others' access from one made before."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
        for part in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            if part.exists():
                part.chmod(0o600)
    except OSError:
        pass  # a read-only or foreign file: opening it says what is wrong


class StoreCore:
    """One database, opened and migrated: the connection pool and the statements every record class uses.

    `database_url` None reads `FACEGATE_DATABASE_URL`; "" (or unset) is SQLite in the data dir.
    """

    def __init__(self, data_dir: str | Path, database_url: str | None = None) -> None:
        self.data_dir = Path(data_dir)
        try:
            self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # faces and names: the owner's only
        except OSError as exc:
            raise StoreError(f"data dir {self.data_dir} cannot be created: {exc.strerror or exc}") from None
        given = dbengine.configured_url(database_url)
        try:
            self.url = dbengine.parse_url(given) if given else dbengine.sqlite_url(self.data_dir / DB_NAME)
        except ValueError as exc:
            raise StoreError(str(exc)) from None
        self.path = Path(self.url.database) if self.url.get_backend_name() == "sqlite" and self.url.database else None
        if self.path is not None:
            _owner_only(self.path)
        self.engine: Engine = dbengine.create_engine(self.url)
        self._writer = self.engine.execution_options(write=True)
        self.backend = self.engine.dialect.name
        try:
            upgrade(self.engine)
        except sa.exc.SQLAlchemyError as exc:
            self.engine.dispose()
            reason = " ".join(str(getattr(exc, "orig", None) or exc).split())
            if self.path:
                raise StoreError(f"database {self.path} cannot be opened for writing: {reason}") from None
            raise StoreError(f"database {dbengine.shown(self.url)} cannot be used: {reason}") from None
        self.shown_url = None if self.path else dbengine.shown(self.url)

    def checkpoint(self) -> None:
        """On SQLite, move the WAL into the database and empty it, after a delete: with `secure_delete` on, the
        deleted pages are zeroed in the file, and no copy of them stays in the WAL. Nothing on PostgreSQL."""
        if self.path is None:
            return
        with self.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    def forgotten(self) -> None:
        """Something biometric was deleted: checkpoint once the deletion is committed."""
        self.after_commit(self.checkpoint)

    def describe(self) -> str:
        """Where the data lives, for logs (no password)."""
        return f"SQLite {self.path}" if self.path else f"PostgreSQL {self.shown_url}"

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction (on SQLite taken up front, so concurrent writers queue instead of failing).

        Inside this thread's unit of work (`unit_of_work`) it is a savepoint of the unit's transaction."""
        unit = current_unit(self._writer)
        if unit is None:
            with self._writer.begin() as connection:
                yield connection
            return
        connection = unit.connection()
        with connection.begin_nested():
            yield connection

    @contextmanager
    def unit_of_work(self) -> Iterator[UnitOfWork]:
        """Every write this thread makes through the store until the block ends commits at its end, together;
        an exception rolls all of them back (facegate/store/unit_of_work.py)."""
        unit = UnitOfWork(self._writer)
        token = enter_unit(unit)
        committed = False
        try:
            yield unit
            committed = True
        finally:
            leave_unit(token)
            unit.finish(commit=committed)

    def after_commit(self, work: Callable[[], Any]) -> None:
        """Run `work` once this thread's writes are committed: at once, or when its unit of work commits."""
        unit = current_unit(self._writer)
        if unit is None:
            work()
        else:
            unit.after_commit(work)

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        """A connection to read on: the unit of work's once it wrote (so a request reads its own change)."""
        unit = current_unit(self._writer)
        if unit is not None and unit.is_open:
            yield unit.connection()
            return
        with self.engine.connect() as connection:
            yield connection

    def rows(self, statement: sa.Executable) -> list[sa.Row[Any]]:
        """Every row a read returns."""
        with self._reading() as connection:
            return list(connection.execute(statement).all())

    def scalar(self, statement: sa.Executable) -> Any:
        """The first column of the first row a read returns (None if none)."""
        with self._reading() as connection:
            return connection.execute(statement).scalar()

    def count(self, table: sa.Table) -> int:
        """How many rows a table holds."""
        return int(self.scalar(sa.select(sa.func.count()).select_from(table)))

    def insert(self, table: sa.Table) -> Any:
        """An INSERT with ON CONFLICT support in this backend's dialect."""
        return (postgresql.insert if self.backend == "postgresql" else sqlite.insert)(table)

    def upsert(self, table: sa.Table) -> Any:
        """INSERT (key, value) ... ON CONFLICT(key) DO UPDATE SET value = the new value."""
        statement = self.insert(table)
        return statement.on_conflict_do_update(index_elements=["key"], set_={"value": statement.excluded.value})

    def bump(self, db: Connection, *keys: str) -> None:
        """Move version counters; on PostgreSQL also NOTIFY `facegate_<key>` at commit, so the other nodes'
        listeners (facegate/db/listen.py) reload at once instead of at their next poll."""
        bumped = sa.cast(sa.cast(meta.c.value, sa.Integer) + 1, sa.Text)
        for key in keys:
            db.execute(
                self.insert(meta)
                .values(key=key, value="1")
                .on_conflict_do_update(index_elements=["key"], set_={"value": bumped})
            )
            if self.backend == "postgresql":
                db.execute(sa.text("SELECT pg_notify(:channel, '')"), {"channel": f"facegate_{key}"})

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        """The value kept under `key` in `meta`, or `default`."""
        found = self.scalar(sa.select(meta.c.value).where(meta.c.key == key))
        return default if found is None else found

    def set_meta(self, key: str, value: str) -> None:
        """Keep `value` under `key` in `meta`."""
        with self.transaction() as db:
            db.execute(self.upsert(meta), {"key": key, "value": value})

    def shared_secret(self, key: str) -> str:
        """A random hex secret kept under `key` in the database: made by the first node to ask, the same for
        every node after (so a URL one node signs is good on another)."""
        with self.transaction() as db:
            db.execute(
                self.insert(meta)
                .values(key=key, value=secrets.token_hex(32))
                .on_conflict_do_nothing(index_elements=["key"])
            )
            return str(db.execute(sa.select(meta.c.value).where(meta.c.key == key)).scalar_one())

    def version(self, key: str) -> int:
        """A version counter's value (0 before its first move)."""
        return int(self.get_meta(key, "0") or 0)
