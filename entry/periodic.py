"""A thread of the serving process that does one pass of some housekeeping, then waits, until stopped.

The retention timer and the presence timer are both such a thread; this holds the starting, the
waiting and the stopping once, and each of them says only what a pass does and how long to wait.
"""

from __future__ import annotations

import threading


class PeriodicThread:
    """Calls `run_once()` at once and then again `pause_s()` seconds after each pass, until `stop()`."""

    def __init__(self, name: str) -> None:
        self.passes = 0  # passes done, failed ones too
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def run_once(self) -> None:
        """One pass (a subclass says what it does)."""
        raise NotImplementedError

    def pause_s(self) -> float:
        """Seconds to wait after a pass."""
        raise NotImplementedError

    def start(self) -> PeriodicThread:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10.0)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(self.pause_s())
