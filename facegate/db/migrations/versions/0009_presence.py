"""Presence, visits and attendance (issue 29).

* `visits`: a person's or visitor's stay, open while they are seen within `presence_window_s` on
  any camera, with its first and last sighting and its cameras; at most one open per subject
  (a partial unique index), closed once by the `left` event whose id it keeps.
* `attendance_slots`: a person's sightings per camera per quarter hour, which the attendance sums
  into days of any time zone.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "visits",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("person_id", Id, sa.ForeignKey("persons.id", ondelete="CASCADE")),
        sa.Column("visitor_id", Id, sa.ForeignKey("visitors.id", ondelete="CASCADE")),
        sa.Column("first_seen", sa.Double, nullable=False),
        sa.Column("last_seen", sa.Double, nullable=False),
        sa.Column("camera_id", sa.Text, nullable=False),
        sa.Column("cameras", sa.Text, nullable=False, server_default="[]"),
        sa.Column("sightings", sa.Integer, nullable=False, server_default="0"),
        sa.Column("is_open", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("left_event_id", sa.Text, unique=True),
        sa.Column("left_at", sa.Double),
        sa.Index(
            "visits_open", "subject", unique=True, sqlite_where=sa.text("is_open"), postgresql_where=sa.text("is_open")
        ),
        sa.Index("visits_subject", "subject", "id"),
        sa.Index("visits_last_seen", "last_seen"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "attendance_slots",
        sa.Column("person_id", Id, sa.ForeignKey("persons.id", ondelete="CASCADE"), nullable=False),
        sa.Column("camera_id", sa.Text, nullable=False),
        sa.Column("slot", sa.Double, nullable=False),
        sa.Column("first_seen", sa.Double, nullable=False),
        sa.Column("last_seen", sa.Double, nullable=False),
        sa.Column("sightings", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("person_id", "camera_id", "slot"),
        sa.Index("attendance_slots_slot", "slot"),
    )


def downgrade() -> None:
    op.drop_table("attendance_slots")
    op.drop_table("visits")
