"""The store's unknown faces: the crop and encoding of faces nobody is named for, kept so an operator can name them.

Reached as `store.unknown`. The emitter adds one per unknown event; the API lists them, shows
a crop, registers one as a person (control/) and deletes them. Only a week's worth, 500 at
most, are kept.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from facegate.db.schema import unknown_faces
from facegate.records import box_dict
from facegate.store.core import StoreCore, iso_now, row_box, vector_blob, vector_of


class UnknownFaceRecords:
    """Unknown faces, newest last; the oldest go once there are too many or they are too old."""

    KEEP_S = 7 * 86400.0
    KEEP_ROWS = 500

    def __init__(self, core: StoreCore) -> None:
        self.core = core

    def add(
        self,
        event_id: str,
        camera_id: str,
        captured_at: float,
        box: Iterable[int],
        jpeg: bytes,
        encoding: Iterable[float],
    ) -> int:
        """Keep an unknown face's crop and encoding (a week, 500 at most) so an operator can name them."""
        top, right, bottom, left = (int(v) for v in box)
        with self.core.transaction() as db:
            row_id = int(
                db.execute(
                    sa.insert(unknown_faces)
                    .values(
                        event_id=event_id,
                        camera_id=camera_id,
                        seen_at=iso_now(captured_at),
                        created=captured_at,
                        box_top=top,
                        box_right=right,
                        box_bottom=bottom,
                        box_left=left,
                        jpeg=jpeg,
                        vector=vector_blob(encoding),
                    )
                    .returning(unknown_faces.c.id)
                ).scalar_one()
            )
            db.execute(
                sa.delete(unknown_faces).where(
                    sa.or_(
                        unknown_faces.c.created < time.time() - self.KEEP_S,
                        unknown_faces.c.id <= row_id - self.KEEP_ROWS,
                    )
                )
            )
        return row_id

    def count(self) -> int:
        """How many unknown faces are kept."""
        return self.core.count(unknown_faces)

    def recent(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest unknown faces first (without crop or encoding)."""
        u = unknown_faces.c
        rows = self.core.rows(
            sa.select(u.id, u.event_id, u.camera_id, u.seen_at, u.box_top, u.box_right, u.box_bottom, u.box_left)
            .order_by(u.id.desc())
            .limit(limit)
        )
        return [
            {
                "id": r.id,
                "event_id": r.event_id,
                "camera_id": r.camera_id,
                "seen_at": r.seen_at,
                "box": box_dict(row_box(r)),
            }
            for r in rows
        ]

    def get(self, unknown_id: int) -> dict[str, Any] | None:
        """One unknown face with its crop and encoding, or None."""
        u = unknown_faces.c
        rows = self.core.rows(sa.select(u.id, u.camera_id, u.seen_at, u.jpeg, u.vector).where(u.id == unknown_id))
        if not rows:
            return None
        row = rows[0]
        return {
            "id": row.id,
            "camera_id": row.camera_id,
            "seen_at": row.seen_at,
            "jpeg": bytes(row.jpeg),
            "encoding": vector_of(row.vector),
        }

    def delete(self, unknown_id: int) -> bool:
        """Forget one unknown face; False if there was none."""
        with self.core.transaction() as db:
            gone = db.execute(sa.delete(unknown_faces).where(unknown_faces.c.id == unknown_id)).rowcount > 0
        if gone:
            self.core.forgotten()
        return gone
