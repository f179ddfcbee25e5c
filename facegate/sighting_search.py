"""Search by photo: every stored sighting of a face within the threshold, nearest first.

The encodings of the stored sightings are held in memory as one float32 matrix (100,000
sightings are 51 MB) with their times and cameras, so a search is one matrix-vector product and
a few masks (bench/search.py measures it). Before each search the index asks the store only for
sightings newer than the last it holds, and reloads everything when `sightings_version` moved
(a delete, a prune, a relabel): what is deleted is never found again.
"""

from __future__ import annotations

import threading

import numpy as np

from facegate.records import ENCODING_SIZE
from facegate.store import Store


class SightingSearch:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._clear()
        self.version = -1

    def _clear(self) -> None:
        self.ids = np.zeros(0, dtype=np.int64)
        self.vectors = np.zeros((0, ENCODING_SIZE), dtype=np.float32)
        self.half_norms = np.zeros(0, dtype=np.float32)
        self.created = np.zeros(0, dtype=np.float64)
        self.cameras = np.zeros(0, dtype=object)

    def warm_up(self) -> threading.Thread:
        """Load the stored encodings in a background thread, so the first search after a start is not the slow
        one (100,000 sightings take about a second and a half to read)."""

        def load() -> None:
            with self._lock:
                self.sync()

        thread = threading.Thread(target=load, name="sighting-search-warm-up", daemon=True)
        thread.start()
        return thread

    def sync(self) -> None:
        """Catch up with the store: new sightings appended, everything reloaded after a deletion."""
        version = self.store.results.version()
        if version != self.version:
            self._clear()
            self.version = version
        while True:
            last = int(self.ids[-1]) if len(self.ids) else 0
            rows = self.store.results.sightings_after(last)
            if not len(rows.ids):
                return
            self.ids = np.concatenate([self.ids, rows.ids])
            self.vectors = np.concatenate([self.vectors, rows.vectors])
            self.half_norms = np.concatenate([self.half_norms, 0.5 * np.einsum("ij,ij->i", rows.vectors, rows.vectors)])
            self.created = np.concatenate([self.created, rows.created])
            self.cameras = np.concatenate([self.cameras, np.array(rows.cameras, dtype=object)])

    def search(
        self,
        encoding: np.ndarray,
        *,
        threshold: float,
        since: float | None = None,
        until: float | None = None,
        camera: str | None = None,
        limit: int = 100,
    ) -> list[tuple[int, float]]:
        """(result id, distance) of the sightings within `threshold` of `encoding`, nearest first."""
        with self._lock:
            self.sync()
            if not len(self.ids):
                return []
            query = np.asarray(encoding, dtype=np.float32).reshape(ENCODING_SIZE)
            # |v - q|^2 = 2 (|v|^2/2 - v.q) + |q|^2
            squared = 2.0 * (self.half_norms - np.einsum("ij,j->i", self.vectors, query)) + float(query @ query)
            keep = squared <= threshold * threshold
            if since is not None:
                keep &= self.created >= since
            if until is not None:
                keep &= self.created <= until
            if camera is not None:
                keep &= self.cameras == camera
            chosen = np.flatnonzero(keep)
            distances = np.sqrt(np.maximum(squared[chosen], 0.0))
            order = np.argsort(distances, kind="stable")[:limit]
            return [(int(self.ids[chosen[i]]), float(distances[i])) for i in order]
