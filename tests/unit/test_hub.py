"""The hub's routing, without processes: stages with plain queues for inboxes, one message at a time."""

from __future__ import annotations

import dataclasses
import queue
from collections.abc import Iterator

import numpy as np
import pytest

from pipeline.runtime.stage_context import CaptureOptions, DetectOptions, EmitOptions, MatchOptions
from pipeline.supervision.hub import MAX_INFLIGHT, Hub
from pipeline.supervision.process_table import Stage, StageTable
from pipeline.supervision.progress import RunProgress
from pipeline.transport import messages
from pipeline.transport.messages import FaceBatch, FrameRef, FrameResult
from pipeline.transport.ring_allocator import RingAllocator
from pipeline.view.live_view import LiveView


class Running:
    """Stands in for a live process."""

    def is_alive(self) -> bool:
        return True


@pytest.fixture
def table() -> StageTable:
    table = StageTable()
    for name, kind, options in (
        ("capture cam0", "capture", CaptureOptions("cam0", "clip.mp4")),
        ("detect-1", "detect", DetectOptions(1)),
        ("detect-2", "detect", DetectOptions(2)),
        ("match", "match", MatchOptions()),
        ("emit", "emit", EmitOptions()),
    ):
        stage = table.claim(name, kind, options)
        stage.inbox, stage.process = queue.Queue(), Running()
    return table


@pytest.fixture
def rings() -> Iterator[RingAllocator]:
    allocator = RingAllocator(workers=2)
    yield allocator
    allocator.release_all()


@pytest.fixture
def hub(table: StageTable, rings: RingAllocator) -> Hub:
    return Hub(table, rings, LiveView(), RunProgress())


def stage(table: StageTable, name: str) -> Stage:
    found = table.get(name)
    assert found is not None
    return found


def inbox(table: StageTable, name: str) -> list[object]:
    q = stage(table, name).inbox
    return [q.get_nowait() for _ in range(q.qsize())]


def ref(seq: int, camera_id: str = "cam0") -> FrameRef:
    return FrameRef(camera_id, "ring-a", seq % 8, seq, seq / 30.0, 1000.0 + seq, (360, 640, 3))


def test_frames_go_to_the_least_busy_worker_and_wait_oldest_first_when_all_are_full(hub: Hub, table: StageTable):
    capture = stage(table, "capture cam0")
    for seq in range(6):
        hub.route(capture, ref(seq))
    assert [r.seq for r in inbox(table, "detect-1")] == [0, 2]
    assert [r.seq for r in inbox(table, "detect-2")] == [1, 3]
    assert [r.seq for r in hub.pending] == [4, 5]
    assert len(stage(table, "detect-1").inflight) == MAX_INFLIGHT

    hub.route(stage(table, "detect-2"), FaceBatch(ref(1), [], worker=2))  # detect-2 is done with frame 1

    assert [b.ref.seq for b in inbox(table, "match")] == [1]
    assert [r.seq for r in inbox(table, "detect-2")] == [4]  # the oldest waiting frame, to the worker that freed up
    assert [r.seq for r in hub.pending] == [5]
    assert sorted(seq for _, seq in stage(table, "detect-2").inflight) == [3, 4]


def test_a_dead_workers_frames_go_back_to_the_head_of_the_line(hub: Hub, table: StageTable):
    capture = stage(table, "capture cam0")
    for seq in range(5):
        hub.route(capture, ref(seq))
    inbox(table, "detect-1")
    inbox(table, "detect-2")
    dead = stage(table, "detect-1")
    dead.restart_at = 1.0  # what supervision sets when it sees the process gone
    assert hub.give_back(dead) == 2
    assert dead.inflight == {}
    assert [r.seq for r in hub.pending] == [0, 2, 4]  # in order, ahead of the frame already waiting

    hub.route(stage(table, "detect-2"), FaceBatch(ref(1), [], worker=2))
    assert [r.seq for r in inbox(table, "detect-2")] == [0]
    assert inbox(table, "detect-1") == []


def test_a_frames_slot_is_freed_when_its_detection_reaches_the_hub_and_not_before(
    hub: Hub, table: StageTable, rings: RingAllocator
):
    """A worker killed with its result unsent leaves the frame in its slot for the worker that redoes it."""
    rings.make(messages.RingRequest("cam0", 36, 64), cameras=1)
    ring = rings.get("cam0")
    assert ring is not None
    slot = ring.claim_free()
    assert slot is not None
    ring.publish(slot, 7, 7 / 30.0, 1007.0)
    frame = FrameRef("cam0", ring.name, slot, 7, 7 / 30.0, 1007.0, (36, 64, 3))
    hub.route(stage(table, "capture cam0"), frame)
    (sent,) = inbox(table, "detect-1")
    dead = stage(table, "detect-1")
    dead.restart_at = 1.0
    assert hub.give_back(dead) == 1
    assert ring.holds(slot, 7)  # still there for detect-2
    assert inbox(table, "detect-2") == [sent]

    hub.route(stage(table, "detect-2"), FaceBatch(sent, [], worker=2))

    assert not ring.holds(slot, 7)
    assert ring.busy() == 0 and ring.claim_free() == slot


def test_end_of_stream_goes_from_capture_to_match_and_from_match_to_emit(hub: Hub, table: StageTable):
    end = messages.EndOfStream("cam0", 275)
    hub.route(stage(table, "capture cam0"), end)
    assert inbox(table, "match") == [end]
    assert inbox(table, "emit") == []

    hub.route(stage(table, "match"), end)
    assert inbox(table, "emit") == [end]
    assert inbox(table, "match") == []


def test_what_match_decides_goes_to_emit_and_the_live_view_keeps_the_newest_frame(hub: Hub, table: StageTable):
    match = stage(table, "match")
    first, second = FrameResult("cam0", 7, 0.2, 1.0, []), FrameResult("cam0", 8, 0.3, 1.1, [])
    other = FrameResult("cam1", 3, 0.2, 1.0, [])
    results = messages.ResultBatch([first, other, second])
    event = messages.Event("evt_1", "cam0", "rtsp://cam", {"name": "Ada"}, 1.0, 1.1)
    unknown = messages.UnknownFace("evt_2", "cam0", b"jpeg", np.zeros(128), 1.0, (1, 2, 3, 0))
    for msg in (event, results, unknown):
        hub.route(match, msg)
    assert inbox(table, "emit") == [event, results, unknown]  # the batch as one message
    assert hub.live.latest_results["cam0"] is second and hub.live.latest_results["cam1"] is other
    assert hub.progress.events == 1


def test_camera_status_ring_requests_and_the_end_of_a_replay_are_answered_in_the_supervisor(
    hub: Hub, table: StageTable, rings: RingAllocator
):
    capture = stage(table, "capture cam0")
    hub.route(capture, messages.CameraStatus("cam0", "failed", "cannot open stream"))
    assert hub.live.camera_status["cam0"].error == "cannot open stream"

    hub.route(capture, messages.RingRequest("cam0", 36, 64))
    (ready,) = inbox(table, "capture cam0")
    assert isinstance(ready, messages.RingReady)
    assert ready.shape == (36, 64, 3) and ready.name.startswith(rings.prefix + "cam0-")
    assert rings.get("cam0") is not None

    assert not hub.progress.done.is_set()
    hub.route(stage(table, "emit"), messages.ReplayDone("cam0", 275, 12.5))
    assert hub.progress.done.is_set()
    assert hub.progress.frames_done == {"cam0": 275}
    for name in ("match", "emit", "detect-1", "detect-2"):
        assert inbox(table, name) == []


def test_nothing_is_sent_to_a_stage_that_is_restarting(hub: Hub, table: StageTable):
    stage(table, "emit").restart_at = 5.0
    hub.route(stage(table, "match"), messages.ResultBatch([FrameResult("cam0", 1, 0.0, 1.0, [])]))
    assert inbox(table, "emit") == []


def test_every_message_a_stage_sends_has_a_route(hub: Hub):
    """A new message type must get its row in Hub.routes(); the ones below only travel from the supervisor."""
    to_stages_only = {"Stop", "RingReady", "CameraUrls"}
    parts = {"Face", "FaceResult", "FrameResult"}  # carried inside a FaceBatch or a ResultBatch
    sent = {
        obj
        for name, obj in vars(messages).items()
        if dataclasses.is_dataclass(obj) and obj.__module__ == messages.__name__ and name not in to_stages_only | parts
    }
    assert set(hub.routes()) == sent
