"""Webhook endpoints with rules: the `endpoints` table, and one outbox row per event and endpoint.

Before, the outbox held one row per event, for the one webhook (`NEXTJS_WEBHOOK_URL`). Each row
now names its endpoint (`endpoint_id`), and the key becomes (event, endpoint), so an event has a
row of its own, retried and claimed on its own, for each endpoint whose rules it matches. The rows
already queued belong to the endpoint `default`, the v1 webhook. The downgrade keeps only those.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

DEFAULT_ENDPOINT = "default"


def _outbox(key: list[str], endpoint: bool) -> sa.Table:
    """The outbox's shape with `key` as its primary key, with or without `endpoint_id`."""
    return sa.Table(
        "outbox",
        sa.MetaData(),
        sa.Column("event_id", sa.Text),
        *([sa.Column("endpoint_id", sa.Text, nullable=False, server_default=DEFAULT_ENDPOINT)] if endpoint else []),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.Double, nullable=False),
        sa.Column("created", sa.Double, nullable=False),
        sa.Column("delivered", sa.Double),
        sa.Column("last_error", sa.Text),
        sa.Column("claimed_by", sa.Text),
        sa.Column("claimed_until", sa.Double),
        sa.PrimaryKeyConstraint(*key, name="outbox_pkey"),
        sa.Index("outbox_due", "status", "next_attempt_at"),
    )


def _outbox_key(key: list[str], endpoint: bool) -> None:
    """Make `key` the outbox's primary key: ALTER TABLE on PostgreSQL, a rebuilt table on SQLite."""
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("outbox_pkey", "outbox", type_="primary")
        op.create_primary_key("outbox_pkey", "outbox", key)
        return
    with op.batch_alter_table("outbox", recreate="always", copy_from=_outbox(key, endpoint)):
        pass


def upgrade() -> None:
    op.create_table(
        "endpoints",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("events", sa.Text, nullable=False),
        sa.Column("filter", sa.Text, nullable=False, server_default="{}"),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.Index("endpoints_created", "created_at", "id"),
    )
    op.add_column("outbox", sa.Column("endpoint_id", sa.Text, nullable=False, server_default=DEFAULT_ENDPOINT))
    _outbox_key(["event_id", "endpoint_id"], endpoint=True)


def downgrade() -> None:
    outbox = sa.table("outbox", sa.column("endpoint_id", sa.Text))
    op.get_bind().execute(outbox.delete().where(outbox.c.endpoint_id != DEFAULT_ENDPOINT))
    _outbox_key(["event_id"], endpoint=True)
    with op.batch_alter_table("outbox", copy_from=_outbox(["event_id"], endpoint=True)) as batch:
        batch.drop_column("endpoint_id")
    op.drop_table("endpoints")
