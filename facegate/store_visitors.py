"""The store's visitors: unknown people followed across tracks, cameras and days.

A mixin of `facegate.store.Store`. The match stage creates a visitor when an unknown track joins
none (`create_visitor`); the emitter counts each sighting (`count_sighting`, inside the result's
transaction) and keeps the visitor's best few faces (`offer_visitor_face`). The API lists, merges,
registers and deletes them. Changes the match stage must see (a merge, a delete, a registration)
bump `visitors_version`; deletions bump `sightings_version` too, for search.
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from facegate.db.schema import encodings, outbox, persons, results, unknown_faces, visitor_faces, visitors
from facegate.store_gallery import vectors_of

VISITOR_FACES_KEPT = 5  # best encodings and crops kept per visitor


def _visitor(row: sa.Row) -> dict[str, Any]:
    from facegate.store import iso_now

    return {"id": int(row.id), "first_seen": iso_now(row.first_seen), "last_seen": iso_now(row.last_seen),
            "sightings": int(row.sightings), "cameras": json.loads(row.cameras)}


class VisitorRecords:
    def visitors_version(self) -> int:
        return int(self.get_meta("visitors_version", "0") or 0)

    def create_visitor(self, seen_at: float) -> int:
        """A new visitor, first seen at `seen_at` (epoch s); its sightings are counted as they are stored."""
        with self._tx() as db:
            return int(db.execute(sa.insert(visitors).values(first_seen=seen_at, last_seen=seen_at, sightings=0,
                                                             cameras="[]").returning(visitors.c.id)).scalar_one())

    def count_sighting(self, db: Connection, visitor_id: int, camera_id: str | None, seen_at: float) -> None:
        """One more sighting of the visitor (inside the result's transaction)."""
        row = db.execute(sa.select(visitors.c.cameras, visitors.c.first_seen, visitors.c.last_seen)
                         .where(visitors.c.id == visitor_id)).first()
        if row is None:
            return  # deleted meanwhile: the result stays an Unknown
        cameras = json.loads(row.cameras)
        if camera_id and camera_id not in cameras:
            cameras.append(camera_id)
        db.execute(sa.update(visitors).where(visitors.c.id == visitor_id).values(
            sightings=visitors.c.sightings + 1, cameras=json.dumps(cameras),
            first_seen=min(row.first_seen, seen_at), last_seen=max(row.last_seen, seen_at)))

    def offer_visitor_face(self, visitor_id: int, vector: np.ndarray, jpeg: bytes | None, score: float) -> bool:
        """Keep this face among the visitor's VISITOR_FACES_KEPT best (by score); True if it was kept."""
        from facegate.store import _vector_blob

        with self._tx() as db:
            if db.execute(sa.select(visitors.c.id).where(visitors.c.id == visitor_id)).first() is None:
                return False
            face_id = db.execute(sa.insert(visitor_faces).values(
                visitor_id=visitor_id, vector=_vector_blob(vector), jpeg=jpeg, score=score, created=time.time(),
            ).returning(visitor_faces.c.id)).scalar_one()
            self._trim_faces(db, visitor_id)
            return db.execute(sa.select(visitor_faces.c.id).where(visitor_faces.c.id == face_id)).first() is not None

    @staticmethod
    def _trim_faces(db: Connection, visitor_id: int) -> None:
        keep = (sa.select(visitor_faces.c.id).where(visitor_faces.c.visitor_id == visitor_id)
                .order_by(visitor_faces.c.score.desc(), visitor_faces.c.id).limit(VISITOR_FACES_KEPT))
        db.execute(sa.delete(visitor_faces).where(visitor_faces.c.visitor_id == visitor_id,
                                                  visitor_faces.c.id.not_in(keep.scalar_subquery())))

    def visitor_index(self) -> tuple[np.ndarray, list[int]]:
        """Every kept visitor face as an (n, 128) array, with the visitor each belongs to."""
        rows = self._rows(sa.select(visitor_faces.c.visitor_id, visitor_faces.c.vector).order_by(visitor_faces.c.id))
        return vectors_of([row.vector for row in rows]), [int(row.visitor_id) for row in rows]

    def list_visitors(self, limit: int = 50, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        """Visitors newest first (by last sighting), one page, and how many there are."""
        rows = self._rows(sa.select(visitors).order_by(visitors.c.last_seen.desc(), visitors.c.id.desc())
                          .limit(limit).offset(offset))
        return [_visitor(row) for row in rows], self._count(visitors)

    def get_visitor(self, visitor_id: int, sightings: int = 100) -> dict[str, Any] | None:
        """A visitor with its kept faces and its sightings (newest first)."""
        rows = self._rows(sa.select(visitors).where(visitors.c.id == visitor_id))
        if not rows:
            return None
        faces = self._rows(sa.select(visitor_faces.c.id, visitor_faces.c.score, visitor_faces.c.created)
                           .where(visitor_faces.c.visitor_id == visitor_id).order_by(visitor_faces.c.score.desc()))
        seen = self._rows(sa.select(results).where(results.c.visitor_id == visitor_id)
                          .order_by(results.c.id.desc()).limit(sightings))
        return {**_visitor(rows[0]),
                "faces": [{"id": int(f.id), "score": round(float(f.score), 1)} for f in faces],
                "results": [{**self._result(r), "has_crop": r.jpeg is not None} for r in seen]}

    def visitor_face_jpeg(self, visitor_id: int, face_id: int) -> bytes | None:
        rows = self._rows(sa.select(visitor_faces.c.jpeg).where(visitor_faces.c.id == face_id,
                                                                visitor_faces.c.visitor_id == visitor_id))
        return bytes(rows[0].jpeg) if rows and rows[0].jpeg is not None else None

    def merge_visitors(self, ids: list[int]) -> int | None:
        """Fold the visitors into the first-seen of them; its id, or None if any id is unknown."""
        with self._tx() as db:
            found = db.execute(sa.select(visitors).where(visitors.c.id.in_(ids)).order_by(visitors.c.first_seen,
                                                                                          visitors.c.id)).all()
            if len(found) != len(set(ids)):
                return None
            target, others = found[0], [int(r.id) for r in found[1:]]
            cameras: list[str] = []
            for row in found:
                cameras += [c for c in json.loads(row.cameras) if c not in cameras]
            db.execute(sa.update(visitor_faces).where(visitor_faces.c.visitor_id.in_(others))
                       .values(visitor_id=target.id))
            db.execute(sa.update(results).where(results.c.visitor_id.in_(others)).values(visitor_id=target.id))
            db.execute(sa.update(visitors).where(visitors.c.id == target.id).values(
                sightings=sum(int(r.sightings) for r in found), cameras=json.dumps(cameras),
                first_seen=min(r.first_seen for r in found), last_seen=max(r.last_seen for r in found)))
            db.execute(sa.delete(visitors).where(visitors.c.id.in_(others)))
            self._trim_faces(db, int(target.id))
            self._bump(db, "visitors_version")
        return int(target.id)

    def delete_visitor(self, visitor_id: int) -> bool:
        """Forget a visitor: its faces, and every result of it with its encoding, crop and unsent webhook."""
        with self._tx() as db:
            events = [r.event_id for r in db.execute(sa.select(results.c.event_id)
                                                     .where(results.c.visitor_id == visitor_id)).all()]
            db.execute(sa.delete(results).where(results.c.visitor_id == visitor_id))
            if events:
                db.execute(sa.delete(unknown_faces).where(unknown_faces.c.event_id.in_(events)))
                db.execute(sa.delete(outbox).where(outbox.c.event_id.in_(events)))
            db.execute(sa.delete(visitor_faces).where(visitor_faces.c.visitor_id == visitor_id))
            gone = db.execute(sa.delete(visitors).where(visitors.c.id == visitor_id)).rowcount > 0
            self._bump(db, "visitors_version")
            self._bump(db, "sightings_version")
        return gone

    def register_visitor(self, visitor_id: int, name: str) -> int | None:
        """Make the visitor a person (new or existing name) from its kept faces, relabel its past results with
        the name, and forget the visitor; the person's id, or None if there is no such visitor."""
        from facegate.store import iso_now

        with self._tx() as db:
            if db.execute(sa.select(visitors.c.id).where(visitors.c.id == visitor_id)).first() is None:
                return None
            faces = db.execute(sa.select(visitor_faces.c.vector, visitor_faces.c.jpeg)
                               .where(visitor_faces.c.visitor_id == visitor_id)).all()
            now = iso_now()
            person_id = db.execute(sa.select(persons.c.id).where(persons.c.name == name)).scalar()
            if person_id is None:
                person_id = db.execute(sa.insert(persons).values(name=name, created_at=now)
                                       .returning(persons.c.id)).scalar_one()
            if faces:
                db.execute(sa.insert(encodings), [{"person_id": person_id, "vector": f.vector, "jpeg": f.jpeg,
                                                   "created_at": now} for f in faces])
            db.execute(sa.update(results).where(results.c.visitor_id == visitor_id)
                       .values(name=name, visitor_id=None))
            db.execute(sa.delete(visitor_faces).where(visitor_faces.c.visitor_id == visitor_id))
            db.execute(sa.delete(visitors).where(visitors.c.id == visitor_id))
            for key in ("gallery_version", "visitors_version", "sightings_version"):
                self._bump(db, key)
        return int(person_id)

