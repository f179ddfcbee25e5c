"""One camera's frames back in sequence order, as they come from several detect workers.

Tracking needs frames in order. Frames are held until the one before them came; a frame that
never comes (its worker died with it) is skipped after a wait the run's mode sets. A capture
that restarts numbers its frames from 0 again in a new ring, so a new ring starts the count
over and late frames of the old ring are dropped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from pipeline.transport.messages import FaceBatch

log = logging.getLogger(__name__)


class ReorderBuffer:
    def __init__(self, camera_id: str, wait_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.camera_id = camera_id
        self.wait_s = wait_s
        self.clock = clock
        self.waiting: dict[int, FaceBatch] = {}
        self.next_seq = 0
        self.gap_since: float | None = None
        self.ring: str | None = None
        self.retired_rings: set[str] = set()
        self.end: int | None = None  # frames in the stream, once its end was announced

    def add(self, batch: FaceBatch) -> None:
        ring = batch.ref.ring
        if ring in self.retired_rings:
            return  # a straggler from before the camera's capture restarted
        if self.ring != ring:
            if self.ring is not None:  # the capture restarted: its frames count from 0 again
                self.retired_rings.add(self.ring)
                self.waiting.clear()
                self.next_seq = 0
                self.gap_since = None
            self.ring = ring
        if batch.ref.seq < self.next_seq:
            return  # a duplicate after a worker restart
        held = self.waiting.get(batch.ref.seq)
        if held is not None and not held.lost:
            return  # done twice (its dead worker's result came after all): the second may have found the slot reused
        self.waiting[batch.ref.seq] = batch

    def ready(self) -> list[FaceBatch]:
        """The frames that may go on now, in order; a gap older than `wait_s` is skipped."""
        out = []
        while self.waiting:
            batch = self.waiting.pop(self.next_seq, None)
            if batch is None:
                if self.gap_since is None:
                    self.gap_since = self.clock()
                if self.clock() - self.gap_since < self.wait_s:
                    break
                log.warning("camera %s: frame %d never came; skipping it", self.camera_id, self.next_seq)
                self.next_seq = min(self.waiting)
                self.gap_since = None
                continue
            self.gap_since = None
            self.next_seq += 1
            out.append(batch)
        return out

    def take_end(self) -> int | None:
        """The stream's frame count once every frame of it went on (then only once); else None."""
        if self.end is not None and self.next_seq >= self.end:
            frames, self.end = self.end, None
            return frames
        return None
