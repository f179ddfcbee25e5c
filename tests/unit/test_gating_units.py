"""Fast unit tests of detect gating's parts: the settings, the capture-side gate with a real hint table,
the hub's route for frames kept off detection, and match's carried boxes."""

from __future__ import annotations

import queue

import numpy as np
import pytest

from facegate.camera import check_camera
from facegate.settings import SettingError, Settings, validate
from pipeline.gating.frame_gate import TRACK_KEEPALIVE_S, FrameGate
from pipeline.gating.rate_gate import Reason
from pipeline.recognition.tracker import CameraTracks
from pipeline.runtime.stage_context import DetectOptions, MatchOptions
from pipeline.supervision.hub import Hub
from pipeline.supervision.process_table import StageTable
from pipeline.supervision.progress import RunProgress
from pipeline.transport.messages import FrameRef
from pipeline.transport.ring_allocator import RingAllocator
from pipeline.transport.track_hints import HINT, HINT_ROWS, HintTable
from pipeline.view.live_view import LiveView


@pytest.mark.parametrize(("value", "expected"), [(0, 0.0), ("2.5", 2.5), (60, 60.0), (0.1, 0.1)])
def test_detect_fps_takes_zero_or_a_rate_up_to_sixty(value: object, expected: float) -> None:
    assert validate({"detect_fps": value}) == {"detect_fps": expected}


@pytest.mark.parametrize("value", [-1, 0.05, 61, "fast", True, None])
def test_detect_fps_refuses_the_rest(value: object) -> None:
    with pytest.raises(SettingError, match="detect_fps"):
        validate({"detect_fps": value})


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("detector", "yolo"),
        ("motion_threshold", 0),
        ("motion_threshold", 255),
        ("motion_min_area", 0),
        ("motion_min_area", 2001),
    ],
)
def test_detector_and_motion_settings_are_bounded(key: str, value: object) -> None:
    with pytest.raises(SettingError, match=key):
        validate({key: value})


def test_a_cameras_detect_fps_overrides_the_global_one() -> None:
    door = check_camera({"id": "door", "stream_url": "rtsp://door.local/live", "detect_fps": 2})
    hall = check_camera({"id": "hall", "stream_url": "rtsp://hall.local/live"})
    assert door.detect_fps == 2.0 and hall.detect_fps is None and "detect_fps" not in hall.to_dict()
    with pytest.raises(SettingError, match="detect_fps"):
        check_camera({"id": "x", "stream_url": "rtsp://x.local/live", "detect_fps": 99})
    settings = Settings.of({"detect_fps": 7, "cameras": [door, hall]})
    assert (settings.detect_fps_for("door"), settings.detect_fps_for("hall"), settings.detect_fps_for("cam0")) == (
        2.0,
        7.0,
        7.0,
    )


def test_the_detector_follows_the_older_model_setting_only_while_left_at_hog() -> None:
    assert Settings.of({}).face_detector == "hog"
    assert Settings.of({"model": "cnn"}).face_detector == "cnn"
    assert Settings.of({"model": "cnn", "detector": "blazeface"}).face_detector == "blazeface"


def still(value: int = 90) -> np.ndarray:
    return np.full((360, 640, 3), value, np.uint8)


def moved(offset: int) -> np.ndarray:
    frame = still()
    frame[100:220, 40 + offset : 120 + offset] = 250
    return frame


def hints() -> HintTable:
    return HintTable(np.zeros((HINT_ROWS,), dtype=HINT))


def test_the_gate_detects_the_first_frame_then_only_motion_at_most_detect_fps() -> None:
    gate, table = FrameGate("cam0", Settings.of({"detect_fps": 5})), hints()
    decisions = [gate.decide(still(), i / 30, table) for i in range(30)]
    assert decisions[0] == Reason.FIRST and decisions[1:] == [None] * 29
    decisions = [gate.decide(moved(5 * i), 1 + i / 30, table) for i in range(30)]
    assert [i for i, d in enumerate(decisions) if d is not None] == [0, 6, 12, 18, 24]
    assert {d for d in decisions if d is not None} == {Reason.MOTION}


def test_a_track_keeps_a_still_scene_detected_twice_a_second() -> None:
    gate, table = FrameGate("cam0", Settings.of({"detect_fps": 5})), hints()
    assert gate.decide(still(), 0.0, table) == Reason.FIRST
    table.publish(0, 1, (10, 60, 60, 10), 100.0, 0.0, (10, 60, 60, 10), True)  # its re-check is 100 s away
    decisions = [gate.decide(still(), i / 30, table) for i in range(1, 61)]
    times = [round(i / 30, 3) for i, d in zip(range(1, 61), decisions, strict=True) if d is not None]
    assert times == [TRACK_KEEPALIVE_S, 2 * TRACK_KEEPALIVE_S, 3 * TRACK_KEEPALIVE_S, 4 * TRACK_KEEPALIVE_S]
    assert {d for d in decisions if d is not None} == {Reason.TRACK_DUE}
    table.retire(0)
    assert all(gate.decide(still(), 2 + i / 30, table) is None for i in range(1, 60))


def test_a_due_recheck_sends_the_next_allowed_frame() -> None:
    gate, table = FrameGate("cam0", Settings.of({"detect_fps": 5})), hints()
    gate.decide(still(), 0.0, table)
    table.publish(0, 1, (10, 60, 60, 10), 0.2, 0.0, (10, 60, 60, 10), True)  # due 0.2 s after its encoding
    assert gate.decide(still(), 0.1, table) is None  # too soon for detect_fps
    assert gate.decide(still(), 0.2, table) == Reason.TRACK_DUE


def test_detect_fps_zero_sends_every_frame_and_a_config_change_is_followed() -> None:
    gate, table = FrameGate("cam0", Settings.of({"detect_fps": 0})), hints()
    assert all(gate.decide(still(), i / 30, table) == Reason.EVERY for i in range(10))
    gate.configure(Settings.of({"detect_fps": 1}))
    assert [gate.decide(still(), 1 + i / 30, table) for i in range(3)] == [Reason.FIRST, None, None]


def test_frames_kept_off_detection_go_straight_to_match() -> None:
    table = StageTable()
    for name, kind, options in (("detect-1", "detect", DetectOptions(1)), ("match", "match", MatchOptions())):
        stage = table.claim(name, kind, options)
        stage.inbox, stage.process = queue.Queue(), type("Running", (), {"is_alive": lambda self: True})()
    rings = RingAllocator(workers=1)
    try:
        hub = Hub(table, rings, LiveView(), RunProgress())
        carried = FrameRef("cam0", "ring-a", 1, 1, 1 / 30, 1000.0, (360, 640, 3), None)
        detected = FrameRef("cam0", "ring-a", 2, 2, 2 / 30, 1000.0, (360, 640, 3), Reason.MOTION)
        hub.route(table.get("detect-1"), carried)
        hub.route(table.get("detect-1"), detected)
        assert table.get("match").inbox.get_nowait() == carried and table.get("match").inbox.empty()
        assert table.get("detect-1").inbox.get_nowait() == detected
    finally:
        rings.release_all()


def test_carried_boxes_are_the_tracks_seen_on_the_last_detected_frame() -> None:
    camera = CameraTracks("cam0")
    assert camera.carried(0.0, 360, 640) == []  # nothing before the first detection
    first, _gone = camera.associate([(10, 60, 60, 10), (100, 300, 200, 200)], 0.0)
    (again,) = camera.associate([(12, 62, 62, 12)], 0.2)  # the second face left
    assert again is first
    carried = camera.carried(0.25, 360, 640)
    assert [(track.id, box) for track, box in carried] == [(first.id, (12, 62, 62, 12))]


def test_a_face_is_encoded_again_only_when_due_or_moved_well_away_from_where_it_was_encoded() -> None:
    table = hints()
    encoded_at = (100, 160, 160, 100)  # a 60 px face, encoded at stream time 1.0, next due 2 s later
    table.publish(0, 7, encoded_at, 2.0, 1.0, encoded_at, True)
    assert not table.should_encode((102, 162, 162, 102), 1.2)  # the same face, a little later
    table.publish(0, 7, (100, 190, 160, 130), 2.0, 1.0, encoded_at, False)  # drifted half a face right
    assert not table.should_encode((100, 195, 160, 135), 1.4)  # overlaps where it was encoded: no need
    table.publish(0, 7, (100, 215, 160, 155), 2.0, 1.0, encoded_at, False)  # a whole face width away now
    assert table.should_encode((100, 220, 160, 160), 1.6)  # moved off its encoded box: encoded again
    assert not table.should_encode((100, 220, 160, 160), 1.65)  # claimed: the next frame in flight skips it
    assert table.should_encode((300, 400, 360, 340), 1.7)  # a face that belongs to no track
    assert table.should_encode((100, 220, 160, 160), 3.6)  # due: 2 s after the claim at 1.6
