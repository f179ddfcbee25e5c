"""The store's gallery: persons, their encodings and face crops, and the negatives ("that was not X").

Reached as `store.gallery`. Every change that alters who the pipeline would name bumps
`gallery_version`, which the match stage watches; a change to past results (a rename, a
deletion) bumps `sightings_version` too, for search by photo.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from facegate.db.schema import encodings as encodings_table
from facegate.db.schema import negatives, outbox, persons, results, visits
from facegate.records import ENCODING_SIZE
from facegate.store.core import (
    GALLERY_VERSION,
    SIGHTINGS_VERSION,
    StoreCore,
    StoreError,
    iso_now,
    vector_blob,
    vectors_of,
)


class NameInUse(ValueError):
    """Another person already has that name (HTTP 409)."""


class GalleryRecords:
    """Who the pipeline can name: a person is a name with one or more encodings."""

    def __init__(self, core: StoreCore) -> None:
        self.core = core

    def version(self) -> int:
        """Moves whenever who the pipeline would name changes."""
        return self.core.version(GALLERY_VERSION)

    # --- persons and encodings --------------------------------------------------------------
    def register(
        self,
        name: str,
        encodings: Iterable[Iterable[float]],
        *,
        client_id: str | None = None,
        image_url: str | None = None,
        crops: list[bytes | None] | None = None,
    ) -> int:
        """Add encodings to the person of that name, creating the person first if new; returns its id.

        Registering an existing name adds a photo of the same person, as the v1 API's
        `/api/register` always did. Two nodes registering one new name at once get one person:
        the insert yields to the other's on the unique name.
        """
        blobs = [vector_blob(e) for e in encodings]
        if not blobs:
            raise ValueError("at least one encoding is needed")
        now = iso_now()
        with self.core.transaction() as db:
            person_id = db.execute(
                self.core.insert(persons)
                .values(name=name, client_id=client_id, image_url=image_url, created_at=now)
                .on_conflict_do_nothing(index_elements=["name"])
                .returning(persons.c.id)
            ).scalar()
            if person_id is None:
                person_id = db.execute(sa.select(persons.c.id).where(persons.c.name == name)).scalar_one()
                if client_id is not None or image_url is not None:
                    db.execute(
                        sa.update(persons)
                        .where(persons.c.id == person_id)
                        .values(
                            client_id=sa.func.coalesce(client_id, persons.c.client_id),
                            image_url=sa.func.coalesce(image_url, persons.c.image_url),
                        )
                    )
            self._add_vectors(db, person_id, blobs, now, crops)
        return int(person_id)

    def _add_vectors(
        self, db: Connection, person_id: int, blobs: list[bytes], now: str, crops: list[bytes | None] | None = None
    ) -> None:
        crops = crops or [None] * len(blobs)
        rows = [
            {"person_id": person_id, "vector": blob, "jpeg": crop, "created_at": now}
            for blob, crop in zip(blobs, crops, strict=True)
        ]
        db.execute(sa.insert(encodings_table), rows)
        self.core.bump(db, GALLERY_VERSION)

    def add_encodings(
        self, person_id: int, encodings: Iterable[Iterable[float]], crops: list[bytes | None] | None = None
    ) -> int:
        """Add encodings (with the face crop of each, when known) to an existing person; returns how many they
        now have (0 if no such person)."""
        blobs = [vector_blob(e) for e in encodings]
        now = iso_now()
        with self.core.transaction() as db:
            if db.execute(sa.select(persons.c.id).where(persons.c.id == person_id)).first() is None:
                return 0
            self._add_vectors(db, person_id, blobs, now, crops)
            mine = encodings_table.c.person_id == person_id
            return int(db.execute(sa.select(sa.func.count()).select_from(encodings_table).where(mine)).scalar_one())

    def delete_person(self, person_id: int) -> bool:
        """Remove a person with every encoding, crop, negative and result of theirs (biometric data must be
        deletable)."""
        with self.core.transaction() as db:
            name = db.execute(sa.select(persons.c.name).where(persons.c.id == person_id)).scalar()
            db.execute(sa.delete(encodings_table).where(encodings_table.c.person_id == person_id))
            db.execute(sa.delete(negatives).where(negatives.c.person_id == person_id))
            left = sa.select(visits.c.left_event_id).where(visits.c.person_id == person_id)
            db.execute(sa.delete(outbox).where(outbox.c.event_id.in_(left)))  # their visits go with them (cascade)
            gone = db.execute(sa.delete(persons).where(persons.c.id == person_id)).rowcount > 0
            if gone:
                theirs = results.c.name == name
                # their webhooks too, delivered or not: a body carries the name, the time and the camera
                db.execute(sa.delete(outbox).where(outbox.c.event_id.in_(sa.select(results.c.event_id).where(theirs))))
                db.execute(sa.delete(results).where(theirs))
                self.core.bump(db, GALLERY_VERSION, SIGHTINGS_VERSION)
        if gone:
            self.core.forgotten()
        return gone

    def rename_person(self, person_id: int, name: str) -> str | None:
        """Give a person a new name (their past results follow); the old name, or None if no such person."""
        with self.core.transaction() as db:
            old: str | None = db.execute(sa.select(persons.c.name).where(persons.c.id == person_id)).scalar()
            if old is None or old == name:
                return old
            if db.execute(sa.select(persons.c.id).where(persons.c.name == name)).first() is not None:
                raise NameInUse(f"the name {name!r} is in use by another person")
            db.execute(sa.update(persons).where(persons.c.id == person_id).values(name=name))
            db.execute(sa.update(results).where(results.c.name == old).values(name=name))
            self.core.bump(db, GALLERY_VERSION, SIGHTINGS_VERSION)
        return old

    def _person_rows(self, person_id: int | None = None) -> list[dict[str, Any]]:
        statement = (
            sa.select(
                persons.c.id,
                persons.c.name,
                persons.c.client_id,
                persons.c.image_url,
                persons.c.created_at,
                sa.func.count(encodings_table.c.id).label("encodings"),
            )
            .select_from(persons.outerjoin(encodings_table, encodings_table.c.person_id == persons.c.id))
            .group_by(persons.c.id)
            .order_by(persons.c.id)
        )
        if person_id is not None:
            statement = statement.where(persons.c.id == person_id)
        return [dict(row._mapping) for row in self.core.rows(statement)]

    def people(self) -> list[dict[str, Any]]:
        """Every person with how many encodings they have, by id."""
        return self._person_rows()

    def person(self, person_id: int) -> dict[str, Any] | None:
        """One person as `people()` lists them, or None."""
        rows = self._person_rows(person_id)
        return rows[0] if rows else None

    def id_of(self, name: str) -> int | None:
        """The id of the person of that name, or None."""
        found = self.core.scalar(sa.select(persons.c.id).where(persons.c.name == name))
        return None if found is None else int(found)

    def count_people(self) -> int:
        return self.core.count(persons)

    def count_encodings(self) -> int:
        return self.core.count(encodings_table)

    def all_vectors(self) -> tuple[np.ndarray, list[str]]:
        """Every known encoding as an (n, 128) array, with the name each one belongs to."""
        rows = self.core.rows(
            sa.select(persons.c.name, encodings_table.c.vector)
            .select_from(encodings_table.join(persons, persons.c.id == encodings_table.c.person_id))
            .order_by(encodings_table.c.id)
        )
        return vectors_of([row.vector for row in rows]), [row.name for row in rows]

    def person_vectors(self, person_id: int) -> np.ndarray:
        """The (n, 128) encodings a person has, oldest first."""
        rows = self.core.rows(
            sa.select(encodings_table.c.vector)
            .where(encodings_table.c.person_id == person_id)
            .order_by(encodings_table.c.id)
        )
        return vectors_of([row.vector for row in rows])

    def encodings(self, person_id: int) -> list[dict[str, Any]]:
        """Each encoding of a person: its id, date and whether it has a crop."""
        rows = self.core.rows(
            sa.select(
                encodings_table.c.id, encodings_table.c.created_at, encodings_table.c.jpeg.isnot(None).label("crop")
            )
            .where(encodings_table.c.person_id == person_id)
            .order_by(encodings_table.c.id)
        )
        return [{"id": int(row.id), "created_at": row.created_at, "has_crop": bool(row.crop)} for row in rows]

    def encoding_crop(self, person_id: int, encoding_id: int) -> tuple[bool, bytes | None]:
        """(the encoding exists for that person, its crop or None)."""
        row = self.core.rows(
            sa.select(encodings_table.c.jpeg).where(
                encodings_table.c.id == encoding_id, encodings_table.c.person_id == person_id
            )
        )
        return (True, None if row[0].jpeg is None else bytes(row[0].jpeg)) if row else (False, None)

    def delete_encoding(self, person_id: int, encoding_id: int) -> bool:
        """Remove one encoding of a person; False if that person has no such encoding."""
        with self.core.transaction() as db:
            gone = (
                db.execute(
                    sa.delete(encodings_table).where(
                        encodings_table.c.id == encoding_id, encodings_table.c.person_id == person_id
                    )
                ).rowcount
                > 0
            )
            if gone:
                self.core.bump(db, GALLERY_VERSION)
        if gone:
            self.core.forgotten()
        return gone

    def import_legacy(self, encodings_path: Path, labels_path: Path) -> int:
        """Import the v1 data dir's `encodings.npy` + `labels.json` once; returns encodings imported."""
        if self.core.get_meta("legacy_imported"):
            return 0
        vectors = np.load(encodings_path, allow_pickle=False)
        labels = json.loads(labels_path.read_text())
        if vectors.ndim != 2 or vectors.shape[1] != ENCODING_SIZE or len(labels) != len(vectors):
            raise StoreError(
                f"{encodings_path.name} ({vectors.shape}) and {labels_path.name} ({len(labels)} labels) do not match"
            )
        by_name: dict[str, list[np.ndarray]] = {}
        for label, vector in zip(labels, vectors, strict=True):
            by_name.setdefault(str(label), []).append(vector)
        for name, group in by_name.items():
            self.register(name, group)
        self.core.set_meta("legacy_imported", iso_now())
        return len(vectors)

    # --- "that was not X" -----------------------------------------------------------------------
    def add_negative(self, person_id: int, vector: np.ndarray, event_id: str | None) -> int:
        """Keep an encoding as a face that is not this person; returns the negative's id."""
        with self.core.transaction() as db:
            negative_id = db.execute(
                sa.insert(negatives)
                .values(
                    person_id=person_id,
                    vector=vector_blob(vector),
                    event_id=event_id,
                    created_at=iso_now(),
                )
                .returning(negatives.c.id)
            ).scalar_one()
            self.core.bump(db, GALLERY_VERSION)
        return int(negative_id)

    def negatives_by_name(self) -> dict[str, np.ndarray]:
        """Name → (m, 128) encodings of faces that were wrongly given that name."""
        rows = self.core.rows(
            sa.select(persons.c.name, negatives.c.vector)
            .select_from(negatives.join(persons, persons.c.id == negatives.c.person_id))
            .order_by(negatives.c.id)
        )
        grouped: dict[str, list[bytes]] = {}
        for row in rows:
            grouped.setdefault(row.name, []).append(row.vector)
        return {name: vectors_of(blobs) for name, blobs in grouped.items()}
