"""The store's visits: who is here now, and the `left` event each stay ends with, exactly once across nodes.

Reached as `store.visits`. The emitter hands every sighting the match stage reports (events, and
faces that stay in view while the cooldown holds their events back) to `seen`, which extends the
subject's open visit or opens one, and counts a person's sighting in their attendance slot, in one
transaction. A subject has at most one open visit: a partial unique index on `subject` makes a
second node's insert find the first one's row instead. Closing (`close_stale`, and `seen` for a
visit gone stale before its closer ran) is a conditional UPDATE, `is_open` and still stale, in the
transaction that writes the `left` event, so whichever node closes it, the event is made once.
Presence (`presence`) reads the newest visit of each subject, so every node answers the same.
"""

from __future__ import annotations

import json
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from facegate.db.schema import persons, visitors, visits
from facegate.presence import (
    ClosedVisit,
    cameras_of,
    has_left,
    is_present,
    person_subject,
    visitor_subject,
    with_camera,
)
from facegate.records import UNKNOWN
from facegate.store.attendance_slots import AttendanceRecords
from facegate.store.core import StoreCore, iso_now, new_event_id
from facegate.store.outbox import OutboxRecords

CLOSE_BATCH = 100  # visits one closing pass ends at most (the next pass takes the rest)
VISIT_COLUMNS = (visits, persons.c.name)


def _with_name() -> sa.Select[Any]:
    return sa.select(*VISIT_COLUMNS).outerjoin(persons, persons.c.id == visits.c.person_id)


def _closed(row: sa.Row[Any], event_id: str) -> ClosedVisit:
    return ClosedVisit(
        event_id,
        None if row.person_id is None else int(row.person_id),
        None if row.visitor_id is None else int(row.visitor_id),
        row.name or UNKNOWN,
        iso_now(row.first_seen),
        iso_now(row.last_seen),
        float(row.last_seen),
        row.camera_id,
        tuple(cameras_of(row.cameras)),
    )


def shown(row: sa.Row[Any]) -> dict[str, Any]:
    """A visit as the API shows it."""
    return {
        "id": int(row.id),
        "person_id": None if row.person_id is None else int(row.person_id),
        "name": row.name or UNKNOWN,
        "visitor_id": None if row.visitor_id is None else int(row.visitor_id),
        "first_seen": iso_now(row.first_seen),
        "last_seen": iso_now(row.last_seen),
        "camera_id": row.camera_id,
        "cameras": cameras_of(row.cameras),
        "sightings": int(row.sightings),
        "open": bool(row.is_open),
        "left_event_id": row.left_event_id,
        "left_at": None if row.left_at is None else iso_now(row.left_at),
    }


class VisitRecords:
    """Visits: opened and extended by sightings, closed (with their `left` event) once they go stale."""

    def __init__(self, core: StoreCore, attendance: AttendanceRecords, outbox: OutboxRecords) -> None:
        self.core = core
        self.attendance = attendance
        self.outbox = outbox

    def seen(
        self, camera_id: str, at: float, window_s: float, *, name: str | None = None, visitor_id: int | None = None
    ) -> list[ClosedVisit]:
        """A sighting of the person named `name` (or of visitor `visitor_id`) on a camera at `at` (epoch s).

        Returns the visits it found stale and closed on the way (their `left` events are written); a name or
        visitor the store no longer has is passed over."""
        closed: list[ClosedVisit] = []
        with self.core.transaction() as db:
            person_id = None
            if name is not None:
                person_id = db.execute(sa.select(persons.c.id).where(persons.c.name == name)).scalar()
                if person_id is None:
                    return closed
                subject = person_subject(int(person_id))
            elif visitor_id is not None:
                if db.execute(sa.select(visitors.c.id).where(visitors.c.id == visitor_id)).scalar() is None:
                    return closed
                subject = visitor_subject(visitor_id)
            else:
                return closed
            row = self._open(db, subject)
            if row is not None and has_left(row.last_seen, at, window_s):
                ended = self._close(db, row.id, at - window_s, time.time())
                closed += [ended] if ended is not None else []
                row = None
            if row is None and not self._opened(db, subject, person_id, visitor_id, camera_id, at):
                row = self._open(db, subject)  # another node opened it meanwhile: extend theirs
            if row is not None:
                self._extend(db, row, camera_id, at)
            if person_id is not None:
                self.attendance.count(db, int(person_id), camera_id, at)
        return closed

    def _open(self, db: Connection, subject: str) -> sa.Row[Any] | None:
        """The subject's open visit, locked for this transaction on PostgreSQL."""
        return db.execute(
            sa.select(visits).where(visits.c.subject == subject, visits.c.is_open).with_for_update()
        ).first()

    def _opened(
        self,
        db: Connection,
        subject: str,
        person_id: int | None,
        visitor_id: int | None,
        camera_id: str,
        at: float,
    ) -> bool:
        """Open a visit; False when the subject has an open one already (another node's, just committed)."""
        statement = (
            self.core.insert(visits)
            .values(
                subject=subject,
                person_id=person_id,
                visitor_id=visitor_id,
                first_seen=at,
                last_seen=at,
                camera_id=camera_id,
                cameras=json.dumps([camera_id]),
                sightings=1,
                is_open=True,
            )
            .on_conflict_do_nothing(index_elements=["subject"], index_where=visits.c.is_open)
            .returning(visits.c.id)
        )
        return db.execute(statement).first() is not None  # (rowcount is not that on every driver)

    def _extend(self, db: Connection, row: sa.Row[Any], camera_id: str, at: float) -> None:
        values: dict[str, Any] = {
            "sightings": row.sightings + 1,
            "cameras": json.dumps(with_camera(cameras_of(row.cameras), camera_id)),
        }
        if at >= row.last_seen:
            values.update(last_seen=at, camera_id=camera_id)
        if at < row.first_seen:
            values["first_seen"] = at
        db.execute(sa.update(visits).where(visits.c.id == row.id).values(**values))

    def _close(self, db: Connection, visit_id: int, stale_before: float, now: float) -> ClosedVisit | None:
        """End a visit if it is still open and last seen before `stale_before`, with its `left` event; None when
        another node (or a fresh sighting) got there first."""
        event_id = new_event_id()
        done = db.execute(
            sa.update(visits)
            .where(visits.c.id == visit_id, visits.c.is_open, visits.c.last_seen < stale_before)
            .values(is_open=False, left_event_id=event_id, left_at=now)
        ).rowcount
        if not done:
            return None
        ended = _closed(db.execute(_with_name().where(visits.c.id == visit_id)).one(), event_id)
        self.announce(db, ended, now)
        return ended

    def announce(self, db: Connection, ended: ClosedVisit, now: float) -> None:
        """Put the `left` event in line for the webhook endpoints that ask for it (in the closing transaction);
        the seed's webhook (the endpoint `default`) takes `appeared` events only."""
        self.outbox.enqueue_event(db, ended.outgoing(), now)

    def close_stale(self, window_s: float, now: float | None = None) -> list[ClosedVisit]:
        """End the open visits not seen for longer than the window, each with its `left` event, at most
        CLOSE_BATCH of them; every node may run it at once (each visit ends once)."""
        now = time.time() if now is None else now
        stale_before = now - window_s
        stale = self.core.rows(
            sa.select(visits.c.id)
            .where(visits.c.is_open, visits.c.last_seen < stale_before)
            .order_by(visits.c.last_seen)
            .limit(CLOSE_BATCH)
        )
        closed = []
        for row in stale:
            with self.core.transaction() as db:
                ended = self._close(db, int(row.id), stale_before, now)
            if ended is not None:
                closed.append(ended)
        return closed

    def presence(self, window_s: float, now: float | None = None, everyone: bool = False) -> dict[str, Any]:
        """`{"people": [...], "visitors": [...]}`: each subject's newest visit, newest first; only those seen
        within the window unless `everyone`."""
        now = time.time() if now is None else now
        newest = sa.select(sa.func.max(visits.c.id)).group_by(visits.c.subject).correlate(None)
        statement = _with_name().where(visits.c.id.in_(newest)).order_by(visits.c.last_seen.desc(), visits.c.id)
        if not everyone:
            statement = statement.where(visits.c.last_seen >= now - window_s)
        people, strangers = [], []
        for row in self.core.rows(statement):
            seen = {
                "camera_id": row.camera_id,
                "last_seen": iso_now(row.last_seen),
                "present": is_present(row.last_seen, now, window_s),
            }
            if row.person_id is not None:
                people.append({"person_id": int(row.person_id), "name": row.name or UNKNOWN, **seen})
            elif row.visitor_id is not None:
                strangers.append({"visitor_id": int(row.visitor_id), **seen})
        return {"people": people, "visitors": strangers}

    def recent(self, limit: int = 50, person_id: int | None = None) -> list[dict[str, Any]]:
        """Visits newest first (open and ended, with their `left` event id), all or one person's."""
        statement = _with_name().order_by(visits.c.last_seen.desc(), visits.c.id.desc()).limit(limit)
        if person_id is not None:
            statement = statement.where(visits.c.person_id == person_id)
        return [shown(row) for row in self.core.rows(statement)]
