"""The presence timer: a thread of the serving process that ends the visits of whoever has left.

A visit not extended by any sighting for `presence_window_s` is over: this thread closes it, which
writes its `left` event (facegate/store/visits.py). It runs here, in the serving process beside the
retention timer, rather than in the emitter, because the emitter runs only while recognition does:
a person who walks out just before `POST /api/stop` (or while this node's pipeline restarts) must
still leave. Every node of a cluster runs it; a visit is closed by one conditional UPDATE, so two
nodes never both send the same `left`. The window is read from the runtime config at each pass.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from entry.periodic import PeriodicThread
from facegate.store import Store

log = logging.getLogger("facegate.presence")

PASSES_PER_WINDOW = 10  # a `left` comes at most a tenth of the window late
LONGEST_PAUSE_S = 5.0
SHORTEST_PAUSE_S = 0.5


def pause_s(window_s: float) -> float:
    """How long the timer waits between passes for a window: a tenth of it, within 0.5 to 5 s."""
    return max(SHORTEST_PAUSE_S, min(LONGEST_PAUSE_S, window_s / PASSES_PER_WINDOW))


class PresenceTimer(PeriodicThread):
    """Calls `store.visits.close_stale` every `pause_s(window)` until `stop()`."""

    def __init__(self, store: Store, window_s: Callable[[], float]) -> None:
        super().__init__("presence")
        self.store, self.window_s = store, window_s
        self.window = LONGEST_PAUSE_S * PASSES_PER_WINDOW  # the last one read

    def run_once(self) -> None:
        """One pass; a failure (the database away) is logged and the next pass tries again."""
        self.passes += 1
        try:
            self.window = float(self.window_s())
            for ended in self.store.visits.close_stale(self.window):
                log.info("left: %s (seen %s to %s on %s)", ended.name, ended.first_seen, ended.last_seen, ended.cameras)
        except Exception as exc:
            log.warning("presence pass failed (%s); trying again", exc)

    def pause_s(self) -> float:
        return pause_s(self.window)
