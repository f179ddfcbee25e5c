"""The four kinds of stage process, named once: the supervisor starts, stops, routes and sums stages by kind.

A StrEnum, so a kind is also its plain name where it leaves the pipeline (the stats by kind in
/api/stats, the replay's report, /metrics labels).
"""

from __future__ import annotations

import enum


class StageKind(enum.StrEnum):
    """What a stage process does; STOP_ORDER is the order they are stopped in (emit last, to write what it holds)."""

    CAPTURE = "capture"
    DETECT = "detect"
    MATCH = "match"
    EMIT = "emit"


STOP_ORDER = (StageKind.CAPTURE, StageKind.DETECT, StageKind.MATCH, StageKind.EMIT)
