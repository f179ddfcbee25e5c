"""Which sightings the match stage reports for presence: at most one per subject per camera every few seconds.

A person in view keeps being present while the event cooldown holds their events back, so the match
stage reports them without an event too; but never per frame: a subject (a person's name, or a
visitor) is reported on a camera again only `report_every_s(presence_window_s)` after the last report
(facegate/presence.py), whichever made it, an event or a quiet sighting.
"""

from __future__ import annotations

from facegate.presence import report_every_s

MAX_KEYS = 1000  # reports remembered per camera before the old ones are dropped


class SightingReports:
    """The last report time of each subject on one camera (wall clock of the frames)."""

    def __init__(self) -> None:
        self.last: dict[str, float] = {}

    def due(self, key: str, at: float, window_s: float) -> bool:
        """True (and counted as reported) when `key` was not reported within the report interval before `at`."""
        every = report_every_s(window_s)
        last = self.last.get(key)
        if last is not None and 0.0 <= at - last < every:
            return False
        self.last[key] = at
        if len(self.last) > MAX_KEYS:
            self.last = {k: v for k, v in self.last.items() if at - v < every}
        return True
