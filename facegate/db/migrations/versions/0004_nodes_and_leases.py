"""Nodes and camera leases: several supervisors share one database and split the cameras.

Each node keeps a row in `nodes` fresh (its heartbeat); a camera is processed by the node whose
lease on it in `camera_leases` has not run out.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "nodes",
        sa.Column("node_id", sa.Text, primary_key=True),
        sa.Column("host", sa.Text, nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("api_url", sa.Text, nullable=False),
        sa.Column("max_cameras", sa.Integer, nullable=False),
        sa.Column("started_at", sa.Double, nullable=False),
        sa.Column("heartbeat_at", sa.Double, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="{}"),
    )
    op.create_table(
        "camera_leases",
        sa.Column("camera_id", sa.Text, primary_key=True),
        sa.Column("node_id", sa.Text, nullable=False),
        sa.Column("lease_until", sa.Double, nullable=False),
        sa.Column("acquired_at", sa.Double, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("camera_leases")
    op.drop_table("nodes")
