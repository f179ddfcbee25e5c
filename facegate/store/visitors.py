"""The store's visitors: unknown people followed across tracks, cameras and days.

Reached as `store.visitors`. The match stage creates a visitor when an unknown track joins none
(`create`); the emitter counts each sighting (`count_sighting`, inside the result's transaction)
and keeps the visitor's best few faces (`offer_face`). The API lists, merges, registers and
deletes them. Changes the match stage must see (a merge, a delete, a registration) bump
`visitors_version`; deletions bump `sightings_version` too, for search.
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from facegate.db.schema import encodings, outbox, persons, results, unknown_faces, visitor_faces, visitors, visits
from facegate.store.core import (
    GALLERY_VERSION,
    SIGHTINGS_VERSION,
    VISITORS_VERSION,
    StoreCore,
    iso_now,
    stored_result,
    vector_blob,
    vectors_of,
)

VISITOR_FACES_KEPT = 5  # best encodings and crops kept per visitor


def _visitor(row: sa.Row[Any]) -> dict[str, Any]:
    return {
        "id": int(row.id),
        "first_seen": iso_now(row.first_seen),
        "last_seen": iso_now(row.last_seen),
        "sightings": int(row.sightings),
        "cameras": json.loads(row.cameras),
    }


def _trim_faces(db: Connection, visitor_id: int) -> None:
    keep = (
        sa.select(visitor_faces.c.id)
        .where(visitor_faces.c.visitor_id == visitor_id)
        .order_by(visitor_faces.c.score.desc(), visitor_faces.c.id)
        .limit(VISITOR_FACES_KEPT)
    )
    db.execute(
        sa.delete(visitor_faces).where(
            visitor_faces.c.visitor_id == visitor_id, visitor_faces.c.id.not_in(keep.scalar_subquery())
        )
    )


class VisitorRecords:
    """Visitors with their sightings count, cameras and best faces."""

    def __init__(self, core: StoreCore) -> None:
        self.core = core

    def version(self) -> int:
        """Moves when a visitor the match stage holds is merged, deleted or registered."""
        return self.core.version(VISITORS_VERSION)

    def create(self, seen_at: float) -> int:
        """A new visitor, first seen at `seen_at` (epoch s); its sightings are counted as they are stored."""
        with self.core.transaction() as db:
            return int(
                db.execute(
                    sa.insert(visitors)
                    .values(first_seen=seen_at, last_seen=seen_at, sightings=0, cameras="[]")
                    .returning(visitors.c.id)
                ).scalar_one()
            )

    def count_sighting(self, db: Connection, visitor_id: int, camera_id: str | None, seen_at: float) -> None:
        """One more sighting of the visitor (inside the result's transaction)."""
        row = db.execute(
            sa.select(visitors.c.cameras, visitors.c.first_seen, visitors.c.last_seen).where(
                visitors.c.id == visitor_id
            )
        ).first()
        if row is None:
            return  # deleted meanwhile: the result stays an Unknown
        cameras = json.loads(row.cameras)
        if camera_id and camera_id not in cameras:
            cameras.append(camera_id)
        db.execute(
            sa.update(visitors)
            .where(visitors.c.id == visitor_id)
            .values(
                sightings=visitors.c.sightings + 1,
                cameras=json.dumps(cameras),
                first_seen=min(row.first_seen, seen_at),
                last_seen=max(row.last_seen, seen_at),
            )
        )

    def offer_face(self, visitor_id: int, vector: np.ndarray, jpeg: bytes | None, score: float) -> bool:
        """Keep this face among the visitor's VISITOR_FACES_KEPT best (by score); True if it was kept."""
        with self.core.transaction() as db:
            if db.execute(sa.select(visitors.c.id).where(visitors.c.id == visitor_id)).first() is None:
                return False
            face_id = db.execute(
                sa.insert(visitor_faces)
                .values(
                    visitor_id=visitor_id,
                    vector=vector_blob(vector),
                    jpeg=jpeg,
                    score=score,
                    created=time.time(),
                )
                .returning(visitor_faces.c.id)
            ).scalar_one()
            _trim_faces(db, visitor_id)
            return db.execute(sa.select(visitor_faces.c.id).where(visitor_faces.c.id == face_id)).first() is not None

    def index(self) -> tuple[np.ndarray, list[int]]:
        """Every kept visitor face as an (n, 128) array, with the visitor each belongs to."""
        rows = self.core.rows(
            sa.select(visitor_faces.c.visitor_id, visitor_faces.c.vector).order_by(visitor_faces.c.id)
        )
        return vectors_of([row.vector for row in rows]), [int(row.visitor_id) for row in rows]

    def page(self, limit: int = 50, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        """Visitors newest first (by last sighting), one page, and how many there are."""
        rows = self.core.rows(
            sa.select(visitors).order_by(visitors.c.last_seen.desc(), visitors.c.id.desc()).limit(limit).offset(offset)
        )
        return [_visitor(row) for row in rows], self.core.count(visitors)

    def get(self, visitor_id: int, sightings: int = 100) -> dict[str, Any] | None:
        """A visitor with its kept faces and its sightings (newest first)."""
        rows = self.core.rows(sa.select(visitors).where(visitors.c.id == visitor_id))
        if not rows:
            return None
        faces = self.core.rows(
            sa.select(visitor_faces.c.id, visitor_faces.c.score, visitor_faces.c.created)
            .where(visitor_faces.c.visitor_id == visitor_id)
            .order_by(visitor_faces.c.score.desc())
        )
        seen = self.core.rows(
            sa.select(results).where(results.c.visitor_id == visitor_id).order_by(results.c.id.desc()).limit(sightings)
        )
        return {
            **_visitor(rows[0]),
            "faces": [{"id": int(f.id), "score": round(float(f.score), 1)} for f in faces],
            "results": [{**stored_result(r), "has_crop": r.jpeg is not None} for r in seen],
        }

    def face_jpeg(self, visitor_id: int, face_id: int) -> bytes | None:
        """The crop of one kept face of the visitor, or None."""
        rows = self.core.rows(
            sa.select(visitor_faces.c.jpeg).where(
                visitor_faces.c.id == face_id, visitor_faces.c.visitor_id == visitor_id
            )
        )
        return bytes(rows[0].jpeg) if rows and rows[0].jpeg is not None else None

    def merge(self, ids: list[int]) -> int | None:
        """Fold the visitors into the first-seen of them; its id, or None if any id is unknown."""
        with self.core.transaction() as db:
            found = db.execute(
                sa.select(visitors).where(visitors.c.id.in_(ids)).order_by(visitors.c.first_seen, visitors.c.id)
            ).all()
            if len(found) != len(set(ids)):
                return None
            target, others = found[0], [int(r.id) for r in found[1:]]
            cameras: list[str] = []
            for row in found:
                cameras += [c for c in json.loads(row.cameras) if c not in cameras]
            db.execute(
                sa.update(visitor_faces).where(visitor_faces.c.visitor_id.in_(others)).values(visitor_id=target.id)
            )
            db.execute(sa.update(results).where(results.c.visitor_id.in_(others)).values(visitor_id=target.id))
            db.execute(
                sa.update(visitors)
                .where(visitors.c.id == target.id)
                .values(
                    sightings=sum(int(r.sightings) for r in found),
                    cameras=json.dumps(cameras),
                    first_seen=min(r.first_seen for r in found),
                    last_seen=max(r.last_seen for r in found),
                )
            )
            db.execute(sa.delete(visitors).where(visitors.c.id.in_(others)))
            _trim_faces(db, int(target.id))
            self.core.bump(db, VISITORS_VERSION)
        return int(target.id)

    def delete(self, visitor_id: int) -> bool:
        """Forget a visitor: its faces, and every result of it with its encoding, crop and webhook (delivered or
        not)."""
        with self.core.transaction() as db:
            events = [
                r.event_id
                for r in db.execute(sa.select(results.c.event_id).where(results.c.visitor_id == visitor_id)).all()
            ]
            db.execute(sa.delete(results).where(results.c.visitor_id == visitor_id))
            if events:
                db.execute(sa.delete(unknown_faces).where(unknown_faces.c.event_id.in_(events)))
                db.execute(sa.delete(outbox).where(outbox.c.event_id.in_(events)))
            db.execute(sa.delete(visitor_faces).where(visitor_faces.c.visitor_id == visitor_id))
            left = sa.select(visits.c.left_event_id).where(visits.c.visitor_id == visitor_id)
            db.execute(sa.delete(outbox).where(outbox.c.event_id.in_(left)))  # its visits go with it (cascade)
            gone = db.execute(sa.delete(visitors).where(visitors.c.id == visitor_id)).rowcount > 0
            self.core.bump(db, VISITORS_VERSION, SIGHTINGS_VERSION)
        self.core.forgotten()
        return gone

    def register(self, visitor_id: int, name: str) -> int | None:
        """Make the visitor a person (new or existing name) from its kept faces, relabel its past results with
        the name, and forget the visitor; the person's id, or None if there is no such visitor."""
        with self.core.transaction() as db:
            if db.execute(sa.select(visitors.c.id).where(visitors.c.id == visitor_id)).first() is None:
                return None
            faces = db.execute(
                sa.select(visitor_faces.c.vector, visitor_faces.c.jpeg).where(visitor_faces.c.visitor_id == visitor_id)
            ).all()
            now = iso_now()
            person_id = db.execute(sa.select(persons.c.id).where(persons.c.name == name)).scalar()
            if person_id is None:
                person_id = db.execute(
                    sa.insert(persons).values(name=name, created_at=now).returning(persons.c.id)
                ).scalar_one()
            if faces:
                db.execute(
                    sa.insert(encodings),
                    [{"person_id": person_id, "vector": f.vector, "jpeg": f.jpeg, "created_at": now} for f in faces],
                )
            db.execute(sa.update(results).where(results.c.visitor_id == visitor_id).values(name=name, visitor_id=None))
            db.execute(sa.delete(visitor_faces).where(visitor_faces.c.visitor_id == visitor_id))
            db.execute(sa.delete(visitors).where(visitors.c.id == visitor_id))
            self.core.bump(db, GALLERY_VERSION, VISITORS_VERSION, SIGHTINGS_VERSION)
        return int(person_id)
