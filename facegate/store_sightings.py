"""The store's sightings: each stored result keeps its face's encoding and crop, to search and to reject.

A mixin of `facegate.store.Store`. Search by photo reads every stored encoding; it keeps them in
memory and asks only for rows it has not seen (`sightings_after`), reloading all of them when
`sightings_version` moves (a delete, a prune, a relabel), so a search never reads 100,000 rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlalchemy as sa

from facegate.db.schema import results
from facegate.records import ENCODING_SIZE


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


class SightingRecords:
    def sightings_version(self) -> int:
        return int(self.get_meta("sightings_version", "0") or 0)

    def sightings_after(self, last_id: int, limit: int = 50_000) -> SightingRows:
        """Sightings with an encoding whose result id is above `last_id`, at most `limit` of them."""
        rows = self._rows(sa.select(results.c.id, results.c.vector, results.c.created, results.c.camera_id)
                          .where(results.c.id > last_id, results.c.vector.isnot(None))
                          .order_by(results.c.id).limit(limit))
        vectors = (np.frombuffer(b"".join(row.vector for row in rows), dtype=np.float64)
                   .reshape(len(rows), ENCODING_SIZE).astype(np.float32))
        return SightingRows(np.array([row.id for row in rows], dtype=np.int64), vectors,
                            np.array([row.created for row in rows], dtype=np.float64),
                            [row.camera_id for row in rows])

    def sightings_by_id(self, ids: list[int]) -> dict[int, dict[str, Any]]:
        """Result id → the result as the API shows it (with visitor_id), for the ids that still exist."""
        if not ids:
            return {}
        rows = self._rows(sa.select(results).where(results.c.id.in_(ids)))
        return {int(row.id): {**self._result(row), "has_crop": row.jpeg is not None} for row in rows}

    def sighting_of_event(self, event_id: str) -> dict[str, Any] | None:
        """A result by its event id, with its encoding (None if it kept none) and crop."""
        rows = self._rows(sa.select(results).where(results.c.event_id == event_id))
        if not rows:
            return None
        row = rows[0]
        vector = None if row.vector is None else np.frombuffer(row.vector, dtype=np.float64).copy()
        return {**self._result(row), "encoding": vector, "jpeg": None if row.jpeg is None else bytes(row.jpeg)}

    def relabel_result(self, event_id: str, name: str) -> bool:
        """Give a stored result another name (after "that was not X"); False if there is no such result."""
        with self._tx() as db:
            changed = db.execute(sa.update(results).where(results.c.event_id == event_id)
                                 .values(name=name)).rowcount > 0
            if changed:
                self._bump(db, "sightings_version")
        return changed

    def sighting_jpeg(self, event_id: str) -> bytes | None:
        rows = self._rows(sa.select(results.c.jpeg).where(results.c.event_id == event_id))
        return bytes(rows[0].jpeg) if rows and rows[0].jpeg is not None else None
