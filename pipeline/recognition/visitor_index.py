"""Which visitor an unknown face is: the match stage's in-memory index of the visitors' kept faces.

An unknown track, once decided, joins the visitor whose nearest kept face lies within
`visitor_threshold` (stricter than `threshold`, see bench/visitor_threshold.py), across cameras and
days; otherwise it starts a new visitor in the store. A new visitor's face enters the index at
once, so the next track of the same stranger joins it before the emitter has stored anything. The
index is reloaded from the store when `visitors_version` moves (a merge, delete or registration).
"""

from __future__ import annotations

import logging
import time

import numpy as np

from facegate.records import ENCODING_SIZE
from facegate.store import Store

log = logging.getLogger(__name__)

CHECK_EVERY_S = 0.5


class VisitorIndex:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.vectors = np.zeros((0, ENCODING_SIZE))
        self.ids: list[int] = []
        self.version = -1
        self.checked = 0.0
        self.refresh(force=True)

    def refresh(self, force: bool = False) -> None:
        """Reload the kept faces when the store says visitors changed (checked twice a second)."""
        now = time.monotonic()
        if not force and now - self.checked < CHECK_EVERY_S:
            return
        self.checked = now
        version = self.store.visitors.version()
        if version == self.version:
            return
        self.vectors, self.ids = self.store.visitors.index()
        self.version = version

    def nearest(self, encoding: np.ndarray) -> tuple[int | None, float]:
        """The visitor with the nearest kept face, and that distance; (None, inf) with no visitors."""
        if not self.ids:
            return None, float("inf")
        distances = np.linalg.norm(self.vectors - np.asarray(encoding, dtype=np.float64), axis=1)
        best = int(np.argmin(distances))
        return self.ids[best], float(distances[best])

    def assign(self, encoding: np.ndarray, threshold: float, seen_at: float) -> tuple[int, bool]:
        """(visitor id, True if new): the nearest visitor within `threshold`, else a new one in the store."""
        visitor_id, distance = self.nearest(encoding)
        if visitor_id is not None and distance <= threshold:
            self.remember(visitor_id, encoding)
            return visitor_id, False
        visitor_id = self.store.visitors.create(seen_at)
        self.remember(visitor_id, encoding)
        log.info("new visitor %d (nearest earlier one at %.3f)", visitor_id, distance)
        return visitor_id, True

    def remember(self, visitor_id: int, encoding: np.ndarray) -> None:
        """Hold this face in the index until the next reload brings the visitor's kept faces from the store."""
        self.vectors = np.vstack([self.vectors, np.asarray(encoding, dtype=np.float64).reshape(1, ENCODING_SIZE)])
        self.ids.append(visitor_id)
