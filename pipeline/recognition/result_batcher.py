"""Match's frame results travel together: one message every few tens of milliseconds, not one per frame.

Each frame's result goes match -> hub (the live view keeps each camera's newest) -> emit (which
counts it, and writes a replay's trace), two queue hops of ~0.4 ms of CPU each
(`python -m bench.profile`), while nothing downstream acts on a single result at once: events, the
faces of unknown people and sightings travel on their own, unbatched. So match collects results
and sends them as one `ResultBatch` at most HOLD_S after the first of them, and before anything that
must come after them (the end of a replay). At 24 cameras of 15 fps that is ~20 messages a second
instead of 360.
"""

from __future__ import annotations

from collections.abc import Callable

from pipeline.transport.messages import FrameResult, ResultBatch

HOLD_S = 0.05  # the longest a result waits in match (seconds)


class ResultBatcher:
    """Collects match's results; `send_due` sends them once the oldest waited `hold_s`, `send` at once."""

    def __init__(self, put: Callable[[ResultBatch], None], hold_s: float = HOLD_S) -> None:
        self._put = put
        self.hold_s = hold_s
        self._results: list[FrameResult] = []
        self._first_at = 0.0

    def add(self, result: FrameResult, now: float) -> None:
        """Hold a result (`now`: monotonic seconds)."""
        if not self._results:
            self._first_at = now
        self._results.append(result)

    def wait_s(self, now: float, longest: float) -> float:
        """How long match may wait for its next message before the held results are due (at most `longest`)."""
        if not self._results:
            return longest
        return max(0.0, min(longest, self._first_at + self.hold_s - now))

    def send_due(self, now: float) -> None:
        """Send the held results if the oldest has waited long enough."""
        if self._results and now - self._first_at >= self.hold_s:
            self.send()

    def send(self) -> None:
        """Send every held result now, if any."""
        if self._results:
            batch, self._results = ResultBatch(self._results), []
            self._put(batch)
