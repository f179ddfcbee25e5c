"""Each camera's ignored regions as the overlay needs them, read from the camera rows at most once a second.

A snapshot or an MJPEG view shades the regions a camera ignores (pipeline/view/overlay.py); an MJPEG
view asks for every part it sends, so the regions are kept for a second rather than read each time.
A change through the API shows within that second, as detection follows it within its config poll.
"""

from __future__ import annotations

import time

from facegate.camera_settings import camera_of
from facegate.regions import Regions
from facegate.store import Store

MAX_AGE_S = 1.0


class CameraRegions:
    """camera id -> its ignored regions, each read anew once older than `max_age_s`."""

    def __init__(self, store: Store, max_age_s: float = MAX_AGE_S) -> None:
        self.store, self.max_age_s = store, max_age_s
        self._read: dict[str, tuple[float, Regions]] = {}

    def of(self, camera_id: str) -> Regions:
        """The regions the camera ignores (none for a camera that is not stored)."""
        now = time.monotonic()
        found = self._read.get(camera_id)
        if found is not None and now - found[0] < self.max_age_s:
            return found[1]
        row = self.store.cameras.get(camera_id)
        regions = camera_of(row).ignore_regions if row is not None else ()
        self._read[camera_id] = (now, regions)
        return regions
