"""Frames that go to no detection travel together: one message per run of them instead of one per frame.

Every frame goes capture -> hub -> match, and on this 2-core machine each hop of a
`multiprocessing.Queue` costs about 0.4 ms of CPU (a thread hand-off on the sending side, a wake-up on
the receiving one), far more than the message itself (`python -m bench.profile`). A live frame kept off
detection (pipeline/gating/frame_gate.py) carries nothing any stage acts on at once: match gives it the
tracks' boxes of the last detected frame, and nothing new can be named or announced from it. So capture
holds such frames and sends them as one `HeldFrames` before the next frame that goes to detection (at
detect_fps 5 on a 15 fps camera: two at a time), or at most HOLD_S after the first when nothing is
detected (an empty or still scene; QUIET_HOLD_S once the scene is quiet enough to be read in groups,
pipeline/gating/frame_gate.py: no track is there to follow, and each batch is two messages on the way to
emit), so the order of a camera's frames never changes. A replay sends every frame on its own (its
figures are per frame and its end must not wait).
"""

from __future__ import annotations

from pipeline.transport.messages import FrameRef, HeldFrames

HOLD_S = 0.5  # the longest a frame kept off detection waits in capture (wall seconds)
QUIET_HOLD_S = 1.0  # the same in a quiet scene, read in groups


class FrameHolder:
    """One per camera, in its capture process: collects the frames kept off detection and says when to send them."""

    def __init__(self, camera_id: str, hold_s: float = HOLD_S) -> None:
        self.camera_id = camera_id
        self.hold_s = hold_s
        self._refs: list[FrameRef] = []
        self._first_at = 0.0

    def add(self, ref: FrameRef, now: float, *, quiet: bool = False) -> HeldFrames | None:
        """Hold a frame; the batch to send once the oldest held one waited `hold_s`, or QUIET_HOLD_S when the
        scene is `quiet` (`now`: wall seconds)."""
        if not self._refs:
            self._first_at = now
        self._refs.append(ref)
        return self.take() if now - self._first_at >= (QUIET_HOLD_S if quiet else self.hold_s) else None

    def take(self) -> HeldFrames | None:
        """The frames held so far (to send before a frame that goes to detection, or at the end), or None."""
        if not self._refs:
            return None
        batch, self._refs = HeldFrames(self.camera_id, self._refs), []
        return batch
