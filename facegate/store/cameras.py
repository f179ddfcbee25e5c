"""The store's cameras: one row per camera, so the cluster holds any number and no write is lost.

Reached as `store.cameras`. Each add, update and delete is one statement or one transaction: two
nodes adding the same id at once meet at the table's primary key (the loser hears `CameraExists`),
an update reads and writes the row inside one transaction (locked on PostgreSQL, under SQLite's
write lock), so two partial updates both land and an update of a deleted camera finds nothing.
What a camera's fields mean and how they are checked is facegate/settings.py's job; here they are
the columns of `cameras` (see facegate/db/schema.py). The stream URL is stored as given.

A write bumps `config_version`, which every stage watches: a camera's own `detect_fps` is a
setting its capture follows, its `min_face_px` and `ignore_regions` ones detection follows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from facegate.db.schema import cameras
from facegate.store.core import CONFIG_VERSION, StoreCore

TIMES = ("created_at", "updated_at")
FIELDS = tuple(c.name for c in cameras.c if c.name not in TIMES)  # id, name, stream_url, enabled, detect_fps, ...
ORDER = (cameras.c.created_at, cameras.c.id)  # oldest first: the order cameras are listed and placed in


class CameraExists(ValueError):
    """A camera of that id is stored already (the table's key refused the insert)."""

    def __init__(self, camera_id: str) -> None:
        super().__init__(f"camera {camera_id!r} exists already")
        self.camera_id = camera_id


@dataclass(frozen=True)
class CameraRow:
    """A stored camera: its fields (id, name, stream_url, enabled, detect_fps and min_face_px (None: the global
    one), ignore_regions (None: none)) and times."""

    fields: dict[str, Any]
    created_at: float
    updated_at: float

    @property
    def id(self) -> str:
        return str(self.fields["id"])

    @property
    def enabled(self) -> bool:
        return bool(self.fields["enabled"])


def _row(row: sa.Row[Any]) -> CameraRow:
    fields = {name: getattr(row, name) for name in FIELDS}
    fields["enabled"] = bool(fields["enabled"])
    return CameraRow(fields, float(row.created_at), float(row.updated_at))


def _values(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The columns a camera's fields fill (absent optional fields: NULL, enabled: true)."""
    return {name: fields.get(name, True if name == "enabled" else None) for name in FIELDS}


class CameraRecords:
    """Cameras by id, oldest first."""

    def __init__(self, core: StoreCore) -> None:
        self.core = core

    # --- reads ---------------------------------------------------------------------------------
    def all(self) -> list[CameraRow]:
        """Every camera, oldest first."""
        return [_row(r) for r in self.core.rows(sa.select(cameras).order_by(*ORDER))]

    def get(self, camera_id: str) -> CameraRow | None:
        found = self.core.rows(sa.select(cameras).where(cameras.c.id == camera_id))
        return _row(found[0]) if found else None

    def count(self) -> int:
        return self.core.count(cameras)

    # --- writes --------------------------------------------------------------------------------
    def add(self, fields: Mapping[str, Any], now: float | None = None) -> CameraRow:
        """Insert a camera; `CameraExists` when its id is taken (by whichever node inserted first)."""
        at = time.time() if now is None else now
        values = {**_values(fields), "created_at": at, "updated_at": at}
        statement = self.core.insert(cameras).values(**values).on_conflict_do_nothing(index_elements=["id"])
        with self.core.transaction() as db:
            if db.execute(statement.returning(cameras.c.id)).first() is None:
                raise CameraExists(values["id"])
            self.core.bump(db, CONFIG_VERSION)
        return CameraRow(_values(fields), at, at)

    def update(
        self, camera_id: str, change: Callable[[dict[str, Any]], Mapping[str, Any]], now: float | None = None
    ) -> CameraRow | None:
        """Read the camera and write `change(its fields)` in one transaction (a partial update merges with what
        is stored at that moment; `change` may raise to refuse); None when there is no such camera."""
        with self.core.transaction() as db:
            found = db.execute(sa.select(cameras).where(cameras.c.id == camera_id).with_for_update()).first()
            if found is None:
                return None
            current = _row(found)
            values = {**_values(change(dict(current.fields))), "id": camera_id}
            at = time.time() if now is None else now
            db.execute(sa.update(cameras).where(cameras.c.id == camera_id).values(**values, updated_at=at))
            self.core.bump(db, CONFIG_VERSION)
        return CameraRow(values, current.created_at, at)

    def put(self, fields: Mapping[str, Any], now: float | None = None) -> None:
        """Insert the camera, or overwrite the one of that id (keeping when it was added)."""
        with self.core.transaction() as db:
            self._put(db, [fields], time.time() if now is None else now)
            self.core.bump(db, CONFIG_VERSION)

    def delete(self, camera_id: str) -> bool:
        """Remove the camera; False when there was none."""
        with self.core.transaction() as db:
            gone = db.execute(sa.delete(cameras).where(cameras.c.id == camera_id).returning(cameras.c.id)).first()
            if gone is not None:
                self.core.bump(db, CONFIG_VERSION)
        return gone is not None

    def replace(self, listed: list[Mapping[str, Any]], keep: Collection[str] = (), now: float | None = None) -> None:
        """Make the stored set `listed` (in its order for the new ones), in one transaction; the cameras of `keep`
        stay as they are unless listed."""
        ids = [str(f["id"]) for f in listed]
        with self.core.transaction() as db:
            db.execute(sa.delete(cameras).where(cameras.c.id.not_in([*ids, *keep])))
            self._put(db, listed, time.time() if now is None else now)
            self.core.bump(db, CONFIG_VERSION)

    def rename(self, old_id: str, new_id: str) -> bool:
        """Give a camera another id (the default camera when `camera_id` changes); False when the old one is gone
        or the new id is taken."""
        with self.core.transaction() as db:
            if db.execute(sa.select(cameras.c.id).where(cameras.c.id == new_id)).first() is not None:
                return False
            moved = db.execute(
                sa.update(cameras)
                .where(cameras.c.id == old_id)
                .values(id=new_id, updated_at=time.time())
                .returning(cameras.c.id)
            ).first()
            if moved is not None:
                self.core.bump(db, CONFIG_VERSION)
        return moved is not None

    def _put(self, db: Connection, listed: list[Mapping[str, Any]], now: float) -> None:
        if not listed:
            return
        step = 1e-6  # new cameras of one write keep their order
        rows = [{**_values(fields), "created_at": now + i * step, "updated_at": now} for i, fields in enumerate(listed)]
        statement = self.core.insert(cameras)
        changed = {name: statement.excluded[name] for name in (*FIELDS, "updated_at") if name != "id"}
        db.execute(statement.on_conflict_do_update(index_elements=["id"], set_=changed), rows)
