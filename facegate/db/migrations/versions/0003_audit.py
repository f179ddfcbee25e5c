"""The audit trail: who changed what through the API, append-only on both backends.

The table is append-only by triggers: an UPDATE is refused, and so is a DELETE of a row younger
than a day, so only the retention prune (rows older than `audit_retention_days`) removes rows.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

SQLITE_TRIGGERS = (
    """CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
       BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END""",
    """CREATE TRIGGER audit_no_early_delete BEFORE DELETE ON audit
       WHEN old.at > CAST(strftime('%s', 'now') AS REAL) - 86400
       BEGIN SELECT RAISE(ABORT, 'audit rows younger than a day cannot be deleted'); END""",
)

POSTGRES_TRIGGERS = (
    """CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF TG_OP = 'UPDATE' THEN
           RAISE EXCEPTION 'the audit trail is append-only';
         END IF;
         IF OLD.at > extract(epoch FROM now()) - 86400 THEN
           RAISE EXCEPTION 'audit rows younger than a day cannot be deleted';
         END IF;
         RETURN OLD;
       END $$""",
    """CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit
       FOR EACH ROW EXECUTE FUNCTION audit_append_only()""",
)


def upgrade() -> None:
    op.create_table(
        "audit",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Double, nullable=False),
        sa.Column("time", sa.Text, nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("client", sa.Text),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("target", sa.Text),
        sa.Column("details", sa.Text, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("audit_at", "audit", ["at"])
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRES_TRIGGERS if postgres else SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("audit")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_append_only()")
