"""The retention: what is older than `retention_days` is forgotten, faces, encodings, crops and webhooks alike.

Reached as `store.retention`. One pass (`forget_before`) removes, in one transaction, the results
written before the cut-off with their encodings and crops, the visitors last seen before it with
their kept faces, the visits and attendance slots last seen before it, the unknown faces (also any
older than their own week), and the outbox rows of the events it removes, whatever their delivery
status: a webhook body carries a name, a time and a camera. Every pass is idempotent, so every
node of a cluster may run it (entry/retention_timer.py runs it in the serving process, at least hourly).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from facegate.db.schema import attendance_slots, outbox, results, unknown_faces, visitor_faces, visitors, visits
from facegate.store.core import SIGHTINGS_VERSION, VISITORS_VERSION, StoreCore

DAY_S = 86400.0


@dataclass(frozen=True)
class Forgotten:
    """How many rows of each kind one pass removed."""

    results: int = 0
    visitors: int = 0
    visitor_faces: int = 0
    unknown_faces: int = 0
    outbox: int = 0
    visits: int = 0
    attendance_slots: int = 0

    @property
    def total(self) -> int:
        return (
            self.results
            + self.visitors
            + self.visitor_faces
            + self.unknown_faces
            + self.outbox
            + self.visits
            + self.attendance_slots
        )


def cutoff(now: float, days: int) -> float | None:
    """The moment before which records go, for `retention_days` = `days` (0: None, nothing goes by age)."""
    return now - days * DAY_S if days > 0 else None


class RetentionRecords:
    """Removes what is past its retention; `unknown_keep_s` is how long unknown faces stay at most anyway."""

    def __init__(self, core: StoreCore, unknown_keep_s: float) -> None:
        self.core = core
        self.unknown_keep_s = unknown_keep_s

    def forget_before(self, before: float | None, now: float) -> Forgotten:
        """Remove the records older than `before` (epoch s; None: only unknown faces past their own keep)."""
        unknown_before = now - self.unknown_keep_s if before is None else max(before, now - self.unknown_keep_s)
        with self.core.transaction() as db:
            if before is None:
                gone_unknown = db.execute(
                    sa.delete(unknown_faces).where(unknown_faces.c.created < unknown_before)
                ).rowcount
                forgotten = Forgotten(unknown_faces=gone_unknown)
            else:
                old_visitors = sa.select(visitors.c.id).where(visitors.c.last_seen < before)
                old_results = sa.or_(results.c.created < before, results.c.visitor_id.in_(old_visitors))
                old_events = sa.select(results.c.event_id).where(old_results)
                forgotten = Forgotten(
                    outbox=db.execute(
                        sa.delete(outbox).where(sa.or_(outbox.c.created < before, outbox.c.event_id.in_(old_events)))
                    ).rowcount,
                    unknown_faces=db.execute(
                        sa.delete(unknown_faces).where(
                            sa.or_(unknown_faces.c.created < unknown_before, unknown_faces.c.event_id.in_(old_events))
                        )
                    ).rowcount,
                    results=db.execute(sa.delete(results).where(old_results)).rowcount,
                    visitor_faces=db.execute(
                        sa.delete(visitor_faces).where(visitor_faces.c.visitor_id.in_(old_visitors))
                    ).rowcount,
                    visits=db.execute(sa.delete(visits).where(visits.c.last_seen < before)).rowcount,
                    attendance_slots=db.execute(
                        sa.delete(attendance_slots).where(attendance_slots.c.last_seen < before)
                    ).rowcount,
                    visitors=db.execute(sa.delete(visitors).where(visitors.c.last_seen < before)).rowcount,
                )
            if forgotten.results or forgotten.visitors:
                self.core.bump(db, SIGHTINGS_VERSION, VISITORS_VERSION)
        if forgotten.total:
            self.core.after_commit(self.core.checkpoint)
        return forgotten
