"""The outbox becomes a work queue: who claimed a delivery, and until when.

A node claims due rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL) by writing its id and a lease
end; a claim whose lease ran out (the node died mid-delivery) is free to be claimed again.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("claimed_by", sa.Text))
    op.add_column("outbox", sa.Column("claimed_until", sa.Double))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("claimed_until")
        batch.drop_column("claimed_by")
