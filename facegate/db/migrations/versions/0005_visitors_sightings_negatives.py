"""Visitors, searchable sightings, negatives and enrollment crops (issue 15).

* `encodings.jpeg`: the face crop of the photo an encoding came from (shown and downloadable).
* `results.vector`, `results.jpeg`, `results.visitor_id`: each stored sighting keeps its encoding
  and crop (search by photo, "that was not X") and, for an unknown face, the visitor it belongs to.
* `negatives`: encodings of faces that were wrongly given a person's name.
* `visitors` and `visitor_faces`: unknown people followed across tracks, cameras and days, with a
  few of their best encodings and crops.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("encodings", sa.Column("jpeg", sa.LargeBinary))
    op.add_column("results", sa.Column("vector", sa.LargeBinary))
    op.add_column("results", sa.Column("jpeg", sa.LargeBinary))
    op.add_column("results", sa.Column("visitor_id", Id))
    op.create_index("results_visitor", "results", ["visitor_id"])
    op.create_table(
        "negatives",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("person_id", Id, sa.ForeignKey("persons.id", ondelete="CASCADE"), nullable=False),
        sa.Column("vector", sa.LargeBinary, nullable=False),
        sa.Column("event_id", sa.Text),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Index("negatives_person", "person_id"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "visitors",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("first_seen", sa.Double, nullable=False),
        sa.Column("last_seen", sa.Double, nullable=False),
        sa.Column("sightings", sa.Integer, nullable=False, server_default="0"),
        sa.Column("cameras", sa.Text, nullable=False, server_default="[]"),
        sa.Index("visitors_last_seen", "last_seen"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "visitor_faces",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("visitor_id", Id, sa.ForeignKey("visitors.id", ondelete="CASCADE"), nullable=False),
        sa.Column("vector", sa.LargeBinary, nullable=False),
        sa.Column("jpeg", sa.LargeBinary),
        sa.Column("score", sa.Double, nullable=False),
        sa.Column("created", sa.Double, nullable=False),
        sa.Index("visitor_faces_visitor", "visitor_id"),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("visitor_faces")
    op.drop_table("visitors")
    op.drop_table("negatives")
    op.drop_index("results_visitor", "results")
    with op.batch_alter_table("results") as batch:
        batch.drop_column("visitor_id")
        batch.drop_column("jpeg")
        batch.drop_column("vector")
    with op.batch_alter_table("encodings") as batch:
        batch.drop_column("jpeg")
