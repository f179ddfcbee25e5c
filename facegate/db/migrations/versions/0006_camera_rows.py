"""Cameras as rows: the `cameras` table, filled from the runtime config's camera list (issue 24).

Before, every camera lived in one JSON list under the `cameras` key of `config`, and the default
camera in the `stream_url` key (with its id under `camera_id`). Each becomes a row of `cameras`,
the default camera first, then the list in its order (`created_at` keeps that order), with its
name, enabled flag and own `detect_fps`. The two keys leave `config`; `camera_id` stays, naming
the default camera. The downgrade writes the rows back into the two keys.

Revision ID: 0006
Revises: 0005
"""

import json
import time
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

DEFAULT_CAMERA_ID = "cam0"  # the `camera_id` setting's default
ORDER_STEP_S = 1e-3  # created_at of the moved cameras: one millisecond apart, in their old order

config = sa.table("config", sa.column("key", sa.Text), sa.column("value", sa.Text))


def _stored(connection: sa.Connection, key: str, default: Any) -> Any:
    """A config key's JSON value, or `default`."""
    found = connection.execute(sa.select(config.c.value).where(config.c.key == key)).scalar()
    return default if found is None else json.loads(found)


def _moved_rows(connection: sa.Connection) -> list[dict[str, Any]]:
    """The cameras the config held: the default camera (from stream_url), then the list, in order."""
    default_id = str(_stored(connection, "camera_id", DEFAULT_CAMERA_ID) or DEFAULT_CAMERA_ID)
    stream_url = _stored(connection, "stream_url", None)
    listed = [
        c
        for c in _stored(connection, "cameras", None) or []
        if isinstance(c, dict) and c.get("id") and c.get("stream_url")
    ]
    entries = []
    if stream_url and all(c["id"] != default_id for c in listed):
        entries.append({"id": default_id, "stream_url": str(stream_url)})
    entries += listed
    now = time.time()
    seen: set[str] = set()
    rows: list[dict[str, Any]] = []
    for entry in entries:
        if entry["id"] in seen:
            continue
        seen.add(entry["id"])
        at = now + len(rows) * ORDER_STEP_S
        fps = entry.get("detect_fps")
        rows.append(
            {
                "id": str(entry["id"]),
                "name": entry.get("name"),
                "stream_url": str(entry["stream_url"]),
                "enabled": bool(entry.get("enabled", True)),
                "detect_fps": None if fps is None else float(fps),
                "created_at": at,
                "updated_at": at,
            }
        )
    return rows


def upgrade() -> None:
    cameras = op.create_table(
        "cameras",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text),
        sa.Column("stream_url", sa.Text, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("detect_fps", sa.Double),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.Index("cameras_created", "created_at", "id"),
    )
    connection = op.get_bind()
    rows = _moved_rows(connection)
    if rows:
        connection.execute(cameras.insert(), rows)
    connection.execute(config.delete().where(config.c.key.in_(("cameras", "stream_url"))))


def downgrade() -> None:
    connection = op.get_bind()
    cameras = sa.table(
        "cameras", *(sa.column(name) for name in ("id", "name", "stream_url", "enabled", "detect_fps", "created_at"))
    )
    rows = connection.execute(sa.select(cameras).order_by(cameras.c.created_at, cameras.c.id)).all()
    default_id = str(_stored(connection, "camera_id", DEFAULT_CAMERA_ID) or DEFAULT_CAMERA_ID)
    default = next((r for r in rows if r.id == default_id), None)
    listed = [
        {
            "id": r.id,
            "stream_url": r.stream_url,
            "name": r.name,
            "enabled": bool(r.enabled),
            **({"detect_fps": r.detect_fps} if r.detect_fps is not None else {}),
        }
        for r in rows
        if r.id != default_id
    ]
    values = {"cameras": listed, "stream_url": default.stream_url if default is not None else None}
    connection.execute(config.delete().where(config.c.key.in_(tuple(values))))
    connection.execute(config.insert(), [{"key": k, "value": json.dumps(v)} for k, v in values.items()])
    op.drop_table("cameras")
