"""The retention's timer: a thread of the serving process that forgets what is past `retention_days`.

It runs one pass (facegate/store/retention.py) when the service starts and then every
`retention_every_s` (an hour at most), whether or not any camera is running, so an idle system
forgets too. `retention_days` is read from the runtime config at each pass (PUT /api/config
changes it live). Every node of a cluster runs it: a pass is idempotent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from entry.periodic import PeriodicThread
from facegate.store import Store
from facegate.store.retention import cutoff

log = logging.getLogger("facegate.retention")


class RetentionTimer(PeriodicThread):
    """Calls `store.retention.forget_before` now and every `every_s` seconds until `stop()`."""

    def __init__(
        self, store: Store, days: Callable[[], int], every_s: float, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__("retention")
        self.store, self.days, self.every_s, self.clock = store, days, every_s, clock

    def pause_s(self) -> float:
        return self.every_s

    def run_once(self) -> None:
        """One pass; a failure (the database away) is logged and the next pass tries again."""
        self.passes += 1
        try:
            days = int(self.days() or 0)
            now = self.clock()
            forgotten = self.store.retention.forget_before(cutoff(now, days), now)
        except Exception as exc:
            log.warning("retention pass failed (%s); trying again in %.0f s", exc, self.every_s)
            return
        if forgotten.total:
            log.info(
                "retention (%d days): forgot %d results, %d visitors with %d faces, %d unknown faces, %d webhook rows",
                days,
                forgotten.results,
                forgotten.visitors,
                forgotten.visitor_faces,
                forgotten.unknown_faces,
                forgotten.outbox,
            )
