"""The store's results: each event the emitter wrote, with the face's encoding and crop (a sighting).

Reached as `store.results`. A result is written with its visitor's sighting count and its
webhook's outbox row in one transaction (`add`). Search by photo (facegate/sighting_search.py)
keeps every stored encoding in memory and asks only for rows it has not seen
(`sightings_after`), reloading all of them when `sightings_version` moves (a delete, a prune, a
relabel), so a search never reads 100,000 rows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlalchemy as sa

from facegate.db.schema import results
from facegate.events import OutgoingEvent
from facegate.records import Result
from facegate.store.core import SIGHTINGS_VERSION, StoreCore, stored_result, vector_blob, vector_of, vectors_of
from facegate.store.outbox import OutboxRecords
from facegate.store.visitors import VisitorRecords


@dataclass(frozen=True)
class Sighting:
    """What a result keeps of the face besides its name and box: the encoding, the crop, its visitor."""

    encoding: np.ndarray | None = None  # (128,) float64
    jpeg: bytes | None = None
    visitor_id: int | None = None


@dataclass(frozen=True)
class SightingRows:
    """Stored sightings in id order, as arrays a search can scan at once."""

    ids: np.ndarray  # (n,) int64 result ids
    vectors: np.ndarray  # (n, 128) float32
    created: np.ndarray  # (n,) epoch seconds
    cameras: list[str | None]


class ResultRecords:
    """Results newest first; written by the emitter, read by the API and search, pruned by age."""

    def __init__(self, core: StoreCore, visitors: VisitorRecords, outbox: OutboxRecords) -> None:
        self.core = core
        self.visitors = visitors
        self.outbox = outbox

    def version(self) -> int:
        """Moves when stored sightings are deleted or renamed (search by photo reloads them)."""
        return self.core.version(SIGHTINGS_VERSION)

    def add(
        self,
        event_id: str,
        result: Result,
        camera_id: str | None,
        stream_url: str | None,
        webhook_body: str | None,
        *,
        created: float | None = None,
        sighting: Sighting | None = None,
        outgoing: OutgoingEvent | None = None,
    ) -> None:
        """Write a result (with the sighting's encoding, crop and visitor) and its outbox rows in one transaction:
        `webhook_body` for the v1 webhook alone, or `outgoing` for every endpoint whose rules it matches."""
        sighting = sighting or Sighting()
        now = time.time() if created is None else created
        box = result["box"]
        with self.core.transaction() as db:
            db.execute(
                self.core.insert(results)
                .values(
                    event_id=event_id,
                    timestamp=result["timestamp"],
                    name=result["name"],
                    confidence=result["confidence"],
                    distance=result["distance"],
                    box_top=box["top"],
                    box_right=box["right"],
                    box_bottom=box["bottom"],
                    box_left=box["left"],
                    camera_id=camera_id,
                    stream_url=stream_url,
                    created=now,
                    vector=None if sighting.encoding is None else vector_blob(sighting.encoding),
                    jpeg=sighting.jpeg,
                    visitor_id=sighting.visitor_id,
                )
                .on_conflict_do_nothing(index_elements=["event_id"])
            )
            if sighting.visitor_id is not None:
                self.visitors.count_sighting(db, sighting.visitor_id, camera_id, now)
            if webhook_body is not None:
                self.outbox.enqueue(db, event_id, webhook_body, now)
            if outgoing is not None:
                self.outbox.enqueue_event(db, outgoing, now)

    def recent(self, limit: int = 100, name: str | None = None) -> list[dict[str, Any]]:
        """The newest results first, all or only those of one name."""
        statement = sa.select(results).order_by(results.c.id.desc()).limit(limit)
        if name is not None:
            statement = statement.where(results.c.name == name)
        return [stored_result(row) for row in self.core.rows(statement)]

    def latest(self) -> dict[str, Any] | None:
        """The newest result, or None."""
        found = self.recent(1)
        return found[0] if found else None

    def count(self, name: str | None = None) -> int:
        """How many results there are, all or only those of one name."""
        if name is None:
            return self.core.count(results)
        return int(self.core.scalar(sa.select(sa.func.count()).where(results.c.name == name)))

    def counts_by_name(self) -> dict[str, int]:
        """Name -> how many results carry it."""
        rows = self.core.rows(sa.select(results.c.name, sa.func.count().label("n")).group_by(results.c.name))
        return {row.name: int(row.n) for row in rows}

    def last_events(self, camera_id: str, since: float) -> dict[str, float]:
        """Name -> when (epoch s) its newest event on this camera was written, for events since `since`:
        what a node taking the camera over needs to keep the event cooldown."""
        rows = self.core.rows(
            sa.select(results.c.name, sa.func.max(results.c.created).label("at"))
            .where(results.c.camera_id == camera_id, results.c.created >= since)
            .group_by(results.c.name)
        )
        return {row.name: float(row.at) for row in rows}

    # --- sightings: a result's face, for search by photo and "that was not X" ------------------
    def sightings_after(self, last_id: int, limit: int = 50_000) -> SightingRows:
        """Sightings with an encoding whose result id is above `last_id`, at most `limit` of them."""
        rows = self.core.rows(
            sa.select(results.c.id, results.c.vector, results.c.created, results.c.camera_id)
            .where(results.c.id > last_id, results.c.vector.isnot(None))
            .order_by(results.c.id)
            .limit(limit)
        )
        return SightingRows(
            np.array([row.id for row in rows], dtype=np.int64),
            vectors_of([row.vector for row in rows]).astype(np.float32),
            np.array([row.created for row in rows], dtype=np.float64),
            [row.camera_id for row in rows],
        )

    def by_id(self, ids: list[int]) -> dict[int, dict[str, Any]]:
        """Result id → the result as the API shows it (with visitor_id), for the ids that still exist."""
        if not ids:
            return {}
        rows = self.core.rows(sa.select(results).where(results.c.id.in_(ids)))
        return {int(row.id): {**stored_result(row), "has_crop": row.jpeg is not None} for row in rows}

    def of_event(self, event_id: str) -> dict[str, Any] | None:
        """A result by its event id, with its encoding (None if it kept none) and crop."""
        rows = self.core.rows(sa.select(results).where(results.c.event_id == event_id))
        if not rows:
            return None
        row = rows[0]
        vector = None if row.vector is None else vector_of(row.vector)
        return {**stored_result(row), "encoding": vector, "jpeg": None if row.jpeg is None else bytes(row.jpeg)}

    def relabel(self, event_id: str, name: str) -> bool:
        """Give a stored result another name (after "that was not X"); False if there is no such result."""
        with self.core.transaction() as db:
            changed = (
                db.execute(sa.update(results).where(results.c.event_id == event_id).values(name=name)).rowcount > 0
            )
            if changed:
                self.core.bump(db, SIGHTINGS_VERSION)
        return changed

    def crop(self, event_id: str) -> bytes | None:
        """The face crop a result kept, or None."""
        rows = self.core.rows(sa.select(results.c.jpeg).where(results.c.event_id == event_id))
        return bytes(rows[0].jpeg) if rows and rows[0].jpeg is not None else None
