"""Versioned schema migrations (Alembic), applied when a store opens, by one process at a time.

Every process opens a store, so the common case must be cheap: one read of `alembic_version`.
Only when it is behind does the process take the lock (a transaction-scoped advisory lock on
PostgreSQL; `BEGIN IMMEDIATE`, the database's own write lock, on SQLite), look again, and run the
missing steps inside that same transaction. Both engines have transactional DDL, so a node that
dies mid-upgrade leaves the schema as it was, and a node that waited finds the work done.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)
logging.getLogger("alembic").setLevel(logging.WARNING)  # its per-step chatter; the summary line is ours

MIGRATIONS = Path(__file__).with_name("migrations")
HEAD = "0009"  # the newest revision in migrations/versions (a test holds the two equal)
ADVISORY_LOCK_KEY = 0x66676D67  # "fgmg": facegate migrations, one key for the whole cluster


def alembic_config(connection: Connection | None = None) -> Any:
    """Alembic's config for our scripts; alembic is imported only here, when a migration is due
    (every stage process opens a store, and alembic costs a few tenths of a second to import)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision as alembic reads it from the scripts (slow; for checks, not the fast path)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at; None before any migration (a new or a first-release database)."""
    if not sa.inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: Engine) -> bool:
    """Bring the schema to the newest revision; True when this process ran migrations."""
    head = HEAD
    with engine.connect() as connection:
        if current_revision(connection) == head:
            return False
    with engine.execution_options(write=True).begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
        found = current_revision(connection)
        if found == head:
            return False  # another process did it while this one waited for the lock
        from alembic import command

        # a new database is routine; changing the schema of one that holds data deserves a line in the log
        log.log(
            logging.INFO if found else logging.DEBUG,
            "migrating the %s schema from %s to %s",
            connection.dialect.name,
            found or "nothing",
            head,
        )
        command.upgrade(alembic_config(connection), "head")
    return True
