"""The schema of the first release: persons, encodings, results, outbox, unknown faces, config, meta.

A data dir made before migrations existed already holds these tables (created with
`CREATE TABLE IF NOT EXISTS`), so this step creates only the tables that are missing: an old
SQLite file is adopted as it is, with its data, and a new database gets all of them.

Revision ID: 0001
Revises:
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _tables() -> dict[str, tuple[sa.Column[Any], ...]]:
    """Frozen here on purpose: later changes to facegate/db/schema.py belong in later revisions."""
    return {
        "persons": (
            sa.Column("id", Id, primary_key=True, autoincrement=True),
            sa.Column("name", sa.Text, nullable=False),
            sa.Column("client_id", sa.Text),
            sa.Column("image_url", sa.Text),
            sa.Column("created_at", sa.Text, nullable=False),
        ),
        "encodings": (
            sa.Column("id", Id, primary_key=True, autoincrement=True),
            sa.Column("person_id", Id, sa.ForeignKey("persons.id", ondelete="CASCADE"), nullable=False),
            sa.Column("vector", sa.LargeBinary, nullable=False),
            sa.Column("created_at", sa.Text, nullable=False),
        ),
        "results": (
            sa.Column("id", Id, primary_key=True, autoincrement=True),
            sa.Column("event_id", sa.Text, nullable=False, unique=True),
            sa.Column("timestamp", sa.Text, nullable=False),
            sa.Column("name", sa.Text, nullable=False),
            sa.Column("confidence", sa.Double, nullable=False),
            sa.Column("distance", sa.Double, nullable=False),
            sa.Column("box_top", sa.Integer, nullable=False),
            sa.Column("box_right", sa.Integer, nullable=False),
            sa.Column("box_bottom", sa.Integer, nullable=False),
            sa.Column("box_left", sa.Integer, nullable=False),
            sa.Column("camera_id", sa.Text),
            sa.Column("stream_url", sa.Text),
            sa.Column("created", sa.Double, nullable=False),
        ),
        "outbox": (
            sa.Column("event_id", sa.Text, primary_key=True),
            sa.Column("body", sa.Text, nullable=False),
            sa.Column("status", sa.Text, nullable=False, server_default="pending"),
            sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
            sa.Column("next_attempt_at", sa.Double, nullable=False),
            sa.Column("created", sa.Double, nullable=False),
            sa.Column("delivered", sa.Double),
            sa.Column("last_error", sa.Text),
        ),
        "unknown_faces": (
            sa.Column("id", Id, primary_key=True, autoincrement=True),
            sa.Column("event_id", sa.Text),
            sa.Column("camera_id", sa.Text),
            sa.Column("seen_at", sa.Text, nullable=False),
            sa.Column("created", sa.Double, nullable=False),
            sa.Column("box_top", sa.Integer),
            sa.Column("box_right", sa.Integer),
            sa.Column("box_bottom", sa.Integer),
            sa.Column("box_left", sa.Integer),
            sa.Column("jpeg", sa.LargeBinary, nullable=False),
            sa.Column("vector", sa.LargeBinary, nullable=False),
        ),
        "config": (
            sa.Column("key", sa.Text, primary_key=True),
            sa.Column("value", sa.Text, nullable=False),
        ),
        "meta": (
            sa.Column("key", sa.Text, primary_key=True),
            sa.Column("value", sa.Text, nullable=False),
        ),
    }


INDEXES = (
    ("persons_name", "persons", ["name"], True),
    ("encodings_person", "encodings", ["person_id"], False),
    ("results_name", "results", ["name", "id"], False),
    ("results_created", "results", ["created"], False),
    ("outbox_due", "outbox", ["status", "next_attempt_at"], False),
)


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    for name, columns in _tables().items():
        if name not in existing:
            autoincrement = any(column.primary_key and column.autoincrement is True for column in columns)
            op.create_table(name, *columns, sqlite_autoincrement=autoincrement)
    for index, table, indexed, unique in INDEXES:
        if table not in existing:
            op.create_index(index, table, indexed, unique=unique)


def downgrade() -> None:
    for name in reversed(list(_tables())):
        op.drop_table(name)
