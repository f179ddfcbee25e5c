"""FrameRing: N frame slots of one camera in one shared-memory segment, with a header per slot.

Layout: 32 bytes of geometry (slots, height, width, channels), the slot headers, the track
hint rows (see pipeline/transport/track_hints.py), then the slots, each 64-byte aligned.

The header is the ring's only shared state. Each field has one writer at a time: capture marks
a free slot FILLED and stamps its seq; the supervisor marks it FREE when the detect worker's
result for it arrives (not the worker: a worker killed with its result still unsent must leave
the frame in place for the worker that does it again). A worker checks the stamped seq against
its FrameRef, before and after reading, so a frame whose slot was reused is reported lost
instead of read wrong.
"""

from __future__ import annotations

import numpy as np

from pipeline.transport.shm import Segment
from pipeline.transport.track_hints import HINT, HINT_ROWS, HintTable

FREE = 0
FILLED = 1
WRITING = 2  # capture is decoding into it: a snapshot must not copy it now

HEADER = np.dtype(
    [("state", "<i8"), ("seq", "<i8"), ("pts", "<f8"), ("captured_at", "<f8"), ("height", "<i8"), ("width", "<i8")]
)
ALIGN = 64


def _aligned(size: int) -> int:
    return (size + ALIGN - 1) // ALIGN * ALIGN


class FrameRing:
    """Create with `FrameRing.create(...)` (supervisor) or attach with `FrameRing.attach(name)`."""

    def __init__(self, segment: Segment, slots: int, shape: tuple[int, int, int]) -> None:
        self.segment = segment
        self.name = segment.name
        self.slots = slots
        self.shape = shape
        self.frame_bytes = int(np.prod(shape))
        self._header_bytes = self._header_size(slots)
        meta = np.ndarray((4,), dtype="<i8", buffer=segment.buf, offset=0)
        if segment.owner:
            meta[:] = (slots, *shape)
        self.header = np.ndarray((slots,), dtype=HEADER, buffer=segment.buf, offset=32)
        hint_offset = 32 + HEADER.itemsize * slots
        self.hints = HintTable(np.ndarray((HINT_ROWS,), dtype=HINT, buffer=segment.buf, offset=hint_offset))
        if segment.owner:
            self.header["seq"] = -1  # never written
        self._frames = [
            np.ndarray(
                shape, dtype=np.uint8, buffer=segment.buf, offset=self._header_bytes + i * _aligned(self.frame_bytes)
            )
            for i in range(slots)
        ]

    @staticmethod
    def _header_size(slots: int) -> int:
        return _aligned(32 + HEADER.itemsize * slots + HINT.itemsize * HINT_ROWS)

    @classmethod
    def size_for(cls, slots: int, shape: tuple[int, int, int]) -> int:
        return cls._header_size(slots) + slots * _aligned(int(np.prod(shape)))

    @classmethod
    def create(cls, name: str, slots: int, shape: tuple[int, int, int]) -> FrameRing:
        return cls(Segment(name, cls.size_for(slots, shape), create=True), slots, shape)

    @classmethod
    def attach(cls, name: str) -> FrameRing:
        segment = Segment(name)
        slots, h, w, c = (int(v) for v in np.ndarray((4,), dtype="<i8", buffer=segment.buf, offset=0))
        return cls(segment, slots, (h, w, c))

    def frame(self, slot: int) -> np.ndarray:
        """A writable view of the slot's pixels: no copy."""
        return self._frames[slot]

    def claim_free(self, start: int = 0) -> int | None:
        """A free slot, searching from `start` so slots are used round the ring; None when all are busy."""
        states = self.header["state"]
        for i in range(self.slots):
            slot = (start + i) % self.slots
            if states[slot] == FREE:
                return slot
        return None

    def begin_write(self, slot: int) -> None:
        self.header["state"][slot] = WRITING

    def abandon_write(self, slot: int) -> None:
        self.header["state"][slot] = FREE

    def copy_latest(self) -> tuple[np.ndarray, int] | None:
        """A copy of the newest complete frame still in the ring, and its seq; None if there is none.

        Capture marks a slot WRITING before it touches its pixels, so a copy that overlapped a
        write is noticed (state or seq changed) and taken again from the next newest slot.
        """
        for _ in range(3):
            states, seqs = self.header["state"].copy(), self.header["seq"].copy()
            candidates = [i for i in range(self.slots) if states[i] != WRITING and seqs[i] >= 0]
            if not candidates:
                return None
            slot = max(candidates, key=lambda i: seqs[i])
            image = self._frames[slot].copy()
            if self.header["state"][slot] != WRITING and self.header["seq"][slot] == seqs[slot]:
                return image, int(seqs[slot])
        return None

    def publish(self, slot: int, seq: int, pts: float, captured_at: float) -> None:
        entry = self.header[slot]
        entry["seq"] = seq
        entry["pts"] = pts
        entry["captured_at"] = captured_at
        entry["height"], entry["width"] = self.shape[0], self.shape[1]
        self.header["state"][slot] = FILLED

    def holds(self, slot: int, seq: int) -> bool:
        return bool(self.header["state"][slot] == FILLED and self.header["seq"][slot] == seq)

    def release(self, slot: int, seq: int) -> None:
        """Free the slot, unless it already holds a newer frame."""
        if self.header["seq"][slot] == seq:
            self.header["state"][slot] = FREE

    def busy(self) -> int:
        return int(np.count_nonzero(self.header["state"] == FILLED))

    def close(self) -> None:
        self.header = None  # type: ignore[assignment]
        self.hints = None  # type: ignore[assignment]
        self._frames = []
        self.segment.close()

    def unlink(self) -> None:
        self.segment.unlink()
