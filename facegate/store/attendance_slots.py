"""The store's attendance slots: how often, from when to when, each person was seen on a camera per quarter hour.

Reached as `store.attendance`. The visits (visits.py) count a person's sighting here in the same
transaction (`count`); `GET /api/attendance` reads the slots of a span of days (`slots`) and
facegate/attendance.py sums them into days of the `timezone` setting. Retention prunes them by age,
and deleting a person deletes theirs (the foreign key cascades).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from facegate.attendance import Slot, slot_of
from facegate.db.schema import attendance_slots, persons
from facegate.store.core import StoreCore


def _earlier(new: sa.ColumnElement[float], old: sa.ColumnElement[float]) -> sa.ColumnElement[float]:
    return sa.case((new < old, new), else_=old)


def _later(new: sa.ColumnElement[float], old: sa.ColumnElement[float]) -> sa.ColumnElement[float]:
    return sa.case((new > old, new), else_=old)


class AttendanceRecords:
    """Quarter hours of sightings per person per camera: written with each sighting, read by day spans."""

    def __init__(self, core: StoreCore) -> None:
        self.core = core

    def count(self, db: Connection, person_id: int, camera_id: str, at: float, sightings: int = 1) -> None:
        """Add a sighting of a person on a camera at `at` to its quarter hour (inside the visit's transaction)."""
        statement = self.core.insert(attendance_slots).values(
            person_id=person_id,
            camera_id=camera_id,
            slot=slot_of(at),
            first_seen=at,
            last_seen=at,
            sightings=sightings,
        )
        new, old = statement.excluded, attendance_slots.c
        db.execute(
            statement.on_conflict_do_update(
                index_elements=["person_id", "camera_id", "slot"],
                set_={
                    "first_seen": _earlier(new.first_seen, old.first_seen),
                    "last_seen": _later(new.last_seen, old.last_seen),
                    "sightings": old.sightings + new.sightings,
                },
            )
        )

    def slots(self, start: float, end: float, person_id: int | None = None) -> list[Slot]:
        """The slots starting in [start, end) (epoch s), with the person's current name; all people or one."""
        statement = (
            sa.select(attendance_slots, persons.c.name)
            .join(persons, persons.c.id == attendance_slots.c.person_id)
            .where(attendance_slots.c.slot >= start, attendance_slots.c.slot < end)
        )
        if person_id is not None:
            statement = statement.where(attendance_slots.c.person_id == person_id)
        return [
            Slot(
                int(row.person_id),
                row.name,
                row.camera_id,
                float(row.slot),
                float(row.first_seen),
                float(row.last_seen),
                int(row.sightings),
            )
            for row in self.core.rows(statement)
        ]
