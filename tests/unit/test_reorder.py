"""Match's per-camera reorder buffer, on a clock the test moves."""

from __future__ import annotations

from pipeline.recognition.reorder import ReorderBuffer
from pipeline.runtime.run_mode import LIVE, Mode
from pipeline.transport.messages import FaceBatch, FrameRef


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def batch(seq: int, ring: str = "ring-a", *, lost: bool = False, worker: int = 1) -> FaceBatch:
    return FaceBatch(FrameRef("cam0", ring, seq % 8, seq, seq / 30.0, 0.0, (360, 640, 3)), [], worker, lost=lost)


def seqs(batches: list[FaceBatch]) -> list[int]:
    return [b.ref.seq for b in batches]


def test_frames_out_of_order_come_out_in_order() -> None:
    buffer = ReorderBuffer("cam0", wait_s=1.0, clock=Clock())
    out = []
    for seq in (2, 0, 3, 1, 4):
        buffer.add(batch(seq))
        out += buffer.ready()
    assert seqs(out) == [0, 1, 2, 3, 4]
    assert buffer.next_seq == 5


def test_a_frame_that_never_comes_holds_the_rest_for_the_wait_then_is_skipped() -> None:
    clock = Clock()
    buffer = ReorderBuffer("cam0", wait_s=1.0, clock=clock)
    for seq in (0, 2, 3):
        buffer.add(batch(seq))
    assert seqs(buffer.ready()) == [0]
    clock.now += 0.9
    assert buffer.ready() == []
    clock.now += 0.2
    assert seqs(buffer.ready()) == [2, 3]
    buffer.add(batch(1))  # too late: dropped as a duplicate
    assert buffer.ready() == []
    assert buffer.next_seq == 4


def test_a_replay_waits_far_longer_for_a_missing_frame_than_a_live_stream() -> None:
    assert LIVE.reorder_wait_s == 1.0
    clock = Clock()
    buffer = ReorderBuffer("cam0", wait_s=Mode(replay=True).reorder_wait_s, clock=clock)
    buffer.add(batch(1))
    assert buffer.ready() == []  # the gap is noticed now
    clock.now += 29.0
    assert buffer.ready() == []
    buffer.add(batch(0))  # a restarted worker's frame, 29 s late, still in time
    assert seqs(buffer.ready()) == [0, 1]


def test_a_new_ring_starts_the_count_over_and_the_old_rings_stragglers_are_dropped() -> None:
    buffer = ReorderBuffer("cam0", wait_s=1.0, clock=Clock())
    for seq in (0, 1, 3):
        buffer.add(batch(seq))
    assert seqs(buffer.ready()) == [0, 1]
    buffer.add(batch(0, ring="ring-b"))  # the capture restarted: frame 0 of its new ring
    assert seqs(buffer.ready()) == [0]
    assert buffer.waiting == {}  # frame 3 of the old ring is gone
    buffer.add(batch(2, ring="ring-a"))
    buffer.add(batch(1, ring="ring-b"))
    assert [(b.ref.ring, b.ref.seq) for b in buffer.ready()] == [("ring-b", 1)]


def test_the_end_of_a_stream_is_told_once_when_its_last_frame_went_on() -> None:
    buffer = ReorderBuffer("cam0", wait_s=1.0, clock=Clock())
    buffer.end = 3
    buffer.add(batch(0))
    buffer.add(batch(2))
    buffer.ready()
    assert buffer.take_end() is None
    buffer.add(batch(1))
    assert seqs(buffer.ready()) == [1, 2]
    assert buffer.take_end() == 3
    assert buffer.take_end() is None


def test_a_frame_done_twice_keeps_the_result_that_read_its_pixels() -> None:
    """A killed worker's result may still arrive after its frame was given to another worker; the slot was
    freed by the first, so the second may find it reused (lost). Whichever comes first, the good one goes on."""
    buffer = ReorderBuffer("cam0", wait_s=1.0, clock=Clock())
    buffer.add(batch(1, worker=1))  # the dead worker's result, read after its frames were given back
    buffer.add(batch(1, lost=True, worker=2))
    buffer.add(batch(2, lost=True, worker=2))  # the other order: the good result replaces the lost one
    buffer.add(batch(2, worker=1))
    buffer.add(batch(0))
    out = buffer.ready()
    assert [(b.ref.seq, b.lost, b.worker) for b in out] == [(0, False, 1), (1, False, 1), (2, False, 1)]
