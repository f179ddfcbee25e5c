"""Versioned schema migrations (Alembic), applied when a store opens, by one process at a time.

Every process opens a store, so the common case must be cheap: one read of `alembic_version`.
Only when it is behind does the process take the lock (a transaction-scoped advisory lock on
PostgreSQL; `BEGIN IMMEDIATE`, the database's own write lock, on SQLite), look again, and run the
missing steps inside that same transaction. Both engines have transactional DDL, so a node that
dies mid-upgrade leaves the schema as it was, and a node that waited finds the work done.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
ADVISORY_LOCK_KEY = 0x66676D67  # "fgmg": facegate migrations, one key for the whole cluster


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@functools.cache
def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> bool:
    """Bring the schema to the newest revision; True when this process ran migrations."""
    head = head_revision()
    with engine.connect() as connection:
        if current_revision(connection) == head:
            return False
    with engine.execution_options(write=True).begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
        found = current_revision(connection)
        if found == head:
            return False  # another process did it while this one waited for the lock
        log.info("migrating the %s schema from %s to %s", connection.dialect.name, found or "nothing", head)
        command.upgrade(alembic_config(connection), "head")
    return True
