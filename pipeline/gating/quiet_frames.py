"""Frames of an empty scene travel together: one message per half second instead of one per frame.

Every frame goes capture -> hub -> match -> hub -> emit, and on this 2-core machine each hop of a
`multiprocessing.Queue` costs about 0.4 ms of CPU (a thread hand-off on the sending side, a
wake-up on the receiving one), far more than the message itself: four hops per frame were most
of what an idle 15 fps camera cost (`python -m bench.capacity --idle-only`). A live frame that
goes to no detection, in which nothing moved, on a camera with no track, carries nothing any
stage acts on at once, so capture holds such frames and sends them as one `QuietFrames` at most
QUIET_FLUSH_S after the first, or sooner, before any frame that is not quiet, so the order of a
camera's frames never changes. Match answers with one `QuietResults`. A replay sends every
frame on its own (its figures are per frame and its end must not wait).
"""

from __future__ import annotations

from pipeline.transport.messages import FrameRef, QuietFrames

QUIET_FLUSH_S = 0.5  # the longest an empty-scene frame waits in capture (wall seconds)


class QuietBatcher:
    """One per camera, in its capture process: collects quiet frames and says when to send them."""

    def __init__(self, camera_id: str, flush_s: float = QUIET_FLUSH_S) -> None:
        self.camera_id = camera_id
        self.flush_s = flush_s
        self._refs: list[FrameRef] = []
        self._first_at = 0.0

    def add(self, ref: FrameRef, now: float) -> QuietFrames | None:
        """Hold a quiet frame; the batch to send once the oldest held one waited `flush_s` (`now`: wall seconds)."""
        if not self._refs:
            self._first_at = now
        self._refs.append(ref)
        return self.take() if now - self._first_at >= self.flush_s else None

    def take(self) -> QuietFrames | None:
        """The frames held so far (to send before a frame that is not quiet, or at the end), or None."""
        if not self._refs:
            return None
        batch, self._refs = QuietFrames(self.camera_id, self._refs), []
        return batch
