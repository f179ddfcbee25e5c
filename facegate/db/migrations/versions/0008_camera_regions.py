"""A camera's own smallest face and the regions of its frame it ignores (issue 29).

Two nullable columns of `cameras`: `min_face_px` (NULL: the global setting applies) and
`ignore_regions` (JSON polygons in frame-relative coordinates; NULL: none). Existing cameras keep
behaving as before. The downgrade drops both.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("cameras", sa.Column("min_face_px", sa.Integer))
    op.add_column("cameras", sa.Column("ignore_regions", sa.JSON(none_as_null=True)))


def downgrade() -> None:
    with op.batch_alter_table("cameras") as table:
        table.drop_column("ignore_regions")
        table.drop_column("min_face_px")
