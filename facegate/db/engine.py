"""Which database a store opens, and an engine tuned for it.

Unset (or empty), the store is SQLite in the data dir (the embedded default). `postgresql://...`
selects PostgreSQL through psycopg 3 with SQLAlchemy's connection pool. The URL travels to the
stage processes in `FACEGATE_DATABASE_URL`, which they inherit at spawn.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine
from sqlalchemy.pool import ConnectionPoolEntry

ENV_DATABASE_URL = "FACEGATE_DATABASE_URL"
POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")


def configured_url(explicit: str | None = None) -> str:
    """The URL given, else the environment's; "" means SQLite in the data dir."""
    value = os.environ.get(ENV_DATABASE_URL, "") if explicit is None else explicit
    return value.strip()


def parse_url(text: str) -> URL:
    """A postgresql:// or sqlite:// URL, with PostgreSQL pinned to the psycopg 3 driver."""
    try:
        url = sa.make_url(text)
    except sa.exc.ArgumentError:
        raise ValueError(f"database URL {text!r} is not a URL like postgresql://user:password@host/db") from None
    if url.drivername in POSTGRES_SCHEMES:
        return url.set(drivername="postgresql+psycopg")
    if url.drivername == "sqlite":
        return url
    raise ValueError(f"database URL scheme {url.drivername!r} is not supported (use postgresql:// or leave it unset)")


def sqlite_url(path: Path) -> URL:
    return URL.create("sqlite", database=str(path))


def shown(url: URL) -> str:
    """The URL for logs and error messages, password hidden."""
    return url.render_as_string(hide_password=True)


def create_engine(url: URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    # pre_ping: a connection the server dropped (a restart, a failover) is replaced, not handed out.
    return sa.create_engine(
        url,
        pool_size=4,
        max_overflow=8,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={"connect_timeout": 10, "application_name": "facegate"},
    )


def _sqlite_engine(url: URL) -> Engine:
    """WAL so readers never wait for the writer; write transactions begin IMMEDIATE so concurrent
    writers queue on the busy timeout instead of failing on a lock upgrade."""
    engine = sa.create_engine(url, connect_args={"timeout": 10.0, "check_same_thread": False})

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None  # the driver's own BEGIN handling off: ours is below
        cursor = dbapi_connection.cursor()
        # secure_delete: a deleted face's bytes are overwritten with zeros, not left in free pages
        for pragma in ("busy_timeout=10000", "synchronous=NORMAL", "foreign_keys=ON", "secure_delete=ON"):
            cursor.execute(f"PRAGMA {pragma}")
        _enter_wal(cursor)
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        write = connection.get_execution_options().get("write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _enter_wal(cursor: sqlite3.Cursor, wait_s: float = 10.0) -> None:
    """Switch to WAL. The switch needs the database to itself and SQLite answers "locked" at once,
    without its busy timeout, while another process writes (several nodes migrating a new file at
    once): so wait here, as the busy timeout would."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
