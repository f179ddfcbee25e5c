"""The store's gallery records beyond registering: rename, a person's encodings and crops, negatives.

A mixin of `facegate.store.Store` (it uses the store's transaction and query helpers), kept apart so
each part of the schema has one module that reads and writes it. Every change that alters who the
pipeline would name bumps `gallery_version`, which the match stage watches.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sqlalchemy as sa

from facegate.db.schema import encodings, negatives, persons, results
from facegate.records import ENCODING_SIZE


class NameInUse(ValueError):
    """Another person already has that name (HTTP 409)."""


def vectors_of(blobs: list[bytes]) -> np.ndarray:
    """Stored encodings (128 float64 each) as an (n, 128) array."""
    if not blobs:
        return np.zeros((0, ENCODING_SIZE))
    return np.frombuffer(b"".join(blobs), dtype=np.float64).reshape(len(blobs), ENCODING_SIZE).copy()


class GalleryRecords:
    def rename_person(self, person_id: int, name: str) -> str | None:
        """Give a person a new name (their past results follow); the old name, or None if no such person."""
        with self._tx() as db:
            old = db.execute(sa.select(persons.c.name).where(persons.c.id == person_id)).scalar()
            if old is None or old == name:
                return old
            if db.execute(sa.select(persons.c.id).where(persons.c.name == name)).first() is not None:
                raise NameInUse(f"the name {name!r} is in use by another person")
            db.execute(sa.update(persons).where(persons.c.id == person_id).values(name=name))
            db.execute(sa.update(results).where(results.c.name == old).values(name=name))
            self._bump(db, "gallery_version")
            self._bump(db, "sightings_version")
        return old

    def person_vectors(self, person_id: int) -> np.ndarray:
        """The (n, 128) encodings a person has, oldest first."""
        rows = self._rows(sa.select(encodings.c.vector).where(encodings.c.person_id == person_id)
                          .order_by(encodings.c.id))
        return vectors_of([row.vector for row in rows])

    def person_encodings(self, person_id: int) -> list[dict[str, Any]]:
        """Each encoding of a person: its id, date and whether it has a crop."""
        rows = self._rows(sa.select(encodings.c.id, encodings.c.created_at, encodings.c.jpeg.isnot(None).label("crop"))
                          .where(encodings.c.person_id == person_id).order_by(encodings.c.id))
        return [{"id": int(row.id), "created_at": row.created_at, "has_crop": bool(row.crop)} for row in rows]

    def encoding_crop(self, person_id: int, encoding_id: int) -> tuple[bool, bytes | None]:
        """(the encoding exists for that person, its crop or None)."""
        row = self._rows(sa.select(encodings.c.jpeg).where(encodings.c.id == encoding_id,
                                                             encodings.c.person_id == person_id))
        return (True, None if row[0].jpeg is None else bytes(row[0].jpeg)) if row else (False, None)

    def delete_encoding(self, person_id: int, encoding_id: int) -> bool:
        with self._tx() as db:
            gone = db.execute(sa.delete(encodings).where(encodings.c.id == encoding_id,
                                                         encodings.c.person_id == person_id)).rowcount > 0
            if gone:
                self._bump(db, "gallery_version")
        return gone

    # --- "that was not X" -----------------------------------------------------------------------
    def add_negative(self, person_id: int, vector: np.ndarray, event_id: str | None) -> int:
        """Keep an encoding as a face that is not this person; returns the negative's id."""
        from facegate.store import _vector_blob, iso_now

        with self._tx() as db:
            negative_id = db.execute(sa.insert(negatives).values(
                person_id=person_id, vector=_vector_blob(vector), event_id=event_id, created_at=iso_now(),
            ).returning(negatives.c.id)).scalar_one()
            self._bump(db, "gallery_version")
        return int(negative_id)

    def negatives_by_name(self) -> dict[str, np.ndarray]:
        """Name → (m, 128) encodings of faces that were wrongly given that name."""
        rows = self._rows(sa.select(persons.c.name, negatives.c.vector)
                          .select_from(negatives.join(persons, persons.c.id == negatives.c.person_id))
                          .order_by(negatives.c.id))
        grouped: dict[str, list[bytes]] = {}
        for row in rows:
            grouped.setdefault(row.name, []).append(row.vector)
        return {name: vectors_of(blobs) for name, blobs in grouped.items()}
