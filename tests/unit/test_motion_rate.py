"""Motion gating and the detect-rate gate, on real frames of the clip, with the clip's own stream time."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from facegate.settings import Settings
from pipeline.gating.frame_gate import FrameGate
from pipeline.gating.motion import MotionConfig, MotionDetector
from pipeline.gating.rate_gate import BoxTrack, DetectGate, DetectRateConfig, Reason, carry_box, observe

FPS = 29.97  # the clip's frame rate: pts = index / FPS


@pytest.fixture(scope="module")
def frames(clip: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(clip))
    found = []
    while len(found) < 400:
        ok, frame = cap.read()
        if not ok:
            break
        found.append(frame)
    cap.release()
    assert len(found) == 275
    return found


def gate_run(frames: list[np.ndarray], config: DetectRateConfig) -> list[tuple[int, Reason]]:
    """(frame index, reason) of each frame sent to detection, motion from a MotionDetector on the frames."""
    motion, gate = MotionDetector(), DetectGate(config)
    sent = []
    for index, frame in enumerate(frames):
        reason = gate.decide(index / FPS, motion=motion.changed(frame))
        if reason is not None:
            sent.append((index, reason))
    return sent


def test_a_static_scene_sends_only_its_first_frame_to_detection(frames: list[np.ndarray]) -> None:
    still = [frames[100].copy() for _ in range(90)]  # three seconds of one frame, as a still camera
    assert gate_run(still, DetectRateConfig(detect_fps=5)) == [(0, Reason.FIRST)]


def test_detect_fps_limits_detections_per_stream_second(frames: list[np.ndarray]) -> None:
    sent = gate_run(frames, DetectRateConfig(detect_fps=5))
    indices = [index for index, _ in sent]
    assert indices == list(range(0, 275, 6))  # 0.2 s apart at 29.97 fps: every 6th frame
    for second in range(10):
        assert sum(second <= i / FPS < second + 1 for i in indices) <= 5
    assert len(gate_run(frames, DetectRateConfig(detect_fps=2))) == len(range(0, 275, 15))


def test_a_scene_that_starts_moving_is_detected_within_one_interval(frames: list[np.ndarray]) -> None:
    config = DetectRateConfig(detect_fps=5)
    scene = [frames[120].copy() for _ in range(47)] + frames[121:200]  # still for 47 frames, then the clip plays
    sent = gate_run(scene, config)
    assert sent[0] == (0, Reason.FIRST)
    moving = [(i, r) for i, r in sent if i > 0]
    assert moving and moving[0][1] is Reason.MOTION
    assert moving[0][0] >= 47 and (moving[0][0] - 47) / FPS <= config.interval_s


def test_motion_seen_too_soon_is_detected_at_the_next_due_frame() -> None:
    gate = DetectGate(DetectRateConfig(detect_fps=5))
    assert gate.decide(0.0, motion=False) is Reason.FIRST
    assert gate.decide(0.1, motion=True) is None  # too soon after the first
    assert gate.decide(0.2, motion=False) is Reason.MOTION  # remembered
    assert gate.decide(0.4, motion=False) is None
    assert gate.decide(0.6, motion=False, track_due=True) is Reason.TRACK_DUE
    assert gate.decide(0.1, motion=False) is Reason.FIRST  # time went back: the stream restarted


def count_looks(gate: FrameGate) -> list[int]:
    """Makes the gate's motion detector count its looks; the list's one number is the count so far."""
    assert gate.motion is not None
    looks, look = [0], gate.motion.regions

    def counted(frame: np.ndarray) -> list[tuple[int, int, int, int]]:
        looks[0] += 1
        return look(frame)

    gate.motion.regions = counted  # type: ignore[method-assign]
    return looks


def test_the_capture_gate_looks_for_motion_detect_fps_times_a_second(frames: list[np.ndarray]) -> None:
    scene = [frames[120].copy() for _ in range(47)] + frames[121:275]  # still, then the clip plays
    every = gate_run(scene, DetectRateConfig(detect_fps=5))
    gate = FrameGate("cam0", Settings.of({"detect_fps": 5}))
    looks = count_looks(gate)
    sent, looked = [], []
    for index, frame in enumerate(scene):
        before = looks[0]
        reason = gate.decide(frame, index / FPS, None)
        looked += [index] * (looks[0] - before)
        if reason is not None:
            sent.append((index, reason))
    # the still part is looked at every 0.2 s (6 frames of the 29.97 fps clip), not on every frame
    assert [i for i in looked if i < 47] == [0, 6, 12, 18, 24, 30, 36, 42]
    # so the clip starting at frame 47 is seen at the next look, one frame later than by looking at every frame
    assert every[:2] == [(0, Reason.FIRST), (47, Reason.MOTION)]
    assert sent[:2] == [(0, Reason.FIRST), (48, Reason.MOTION)]
    # while the clip plays, only the frames 0.2 s after a detection are looked at, and each of them is detected
    playing = [i for i in looked if i >= 47]
    assert playing == [i for i, _ in sent if i >= 47]
    assert abs(len(sent) - len(every)) <= 1


def test_a_quiet_scene_is_read_in_groups_and_looked_at_on_the_newest_frame_of_each(frames: list[np.ndarray]) -> None:
    scene = [frames[120].copy() for _ in range(70)] + frames[121:200]  # still for 2.3 s, then the clip plays
    gate = FrameGate("cam0", Settings.of({"detect_fps": 5}))
    looks = count_looks(gate)
    groups, sent, looked, passed, newer = [], [], [], [], 0  # as capture reads: each group's first frame and size
    for index, frame in enumerate(scene):
        if newer > 0:
            newer -= 1
        else:
            size = gate.group_size(15.0)
            groups.append((index, size))
            newer = size - 1
        if gate.passed_over(newer):
            passed.append(index)
            continue
        before = looks[0]
        reason = gate.decide(frame, index / 15.0, None)  # played as a 15 fps camera
        looked += [index] * (looks[0] - before)
        if reason is not None:
            sent.append(index)
    # the first frame on its own, then groups of one detect interval (3 frames at 15 fps) whose newest is looked
    # at (0, 3, ... 18), every frame going on until a second of looks found nothing; then only the newest does
    assert groups[:7] == [(0, 1)] + [(start, 3) for start in range(1, 19, 3)]
    assert [(start, size) for start, size in groups if 19 <= start < 70] == [(start, 3) for start in range(19, 70, 3)]
    assert [i for i in looked if i < 19] == list(range(0, 19, 3))
    # in a quiet group only the newest frame goes on and is looked at; the clip starting at frame 70 is seen at
    # its group's newest frame (72) and detected; from there every frame goes on, still read a group at a time
    assert [i for i in looked if 19 <= i <= 72] == list(range(21, 73, 3))
    assert sent[:2] == [0, 72]
    assert [(start, size) for start, size in groups if start > 72] == [(start, 3) for start in range(73, 149, 3)]
    assert passed == [i for i in range(19, 72) if i % 3 != 0]


def read_in_groups(gate: FrameGate, scene: list[np.ndarray], early: set[int]) -> tuple[list[int], list[int]]:
    """Play `scene` through the gate as live capture reads a 15 fps camera: (the size of each group read, the
    frames sent to detection); a frame in `early` comes 10 ms before its time, as after a wake-up a little early."""
    sizes, sent, newer = [], [], 0
    for index, frame in enumerate(scene):
        if newer > 0:
            newer -= 1
        else:
            sizes.append(gate.group_size(15.0))
            newer = sizes[-1] - 1
        assert not gate.passed_over(newer)  # a moving scene: every frame goes on
        if gate.decide(frame, index / 15.0 - (0.01 if index in early else 0.0), None) is not None:
            sent.append(index)
    return sizes, sent


def test_a_moving_scene_is_read_a_detect_interval_at_a_time_and_an_early_newest_frame_costs_one_frame(
    frames: list[np.ndarray],
) -> None:
    scene = frames[121:200]  # the clip playing, as a 15 fps camera
    sizes, sent = read_in_groups(FrameGate("cam0", Settings.of({"detect_fps": 5})), scene, early=set())
    # the first frame is read on its own (no group size is known before it), then three at a time, and the
    # newest of each group is the one detected: one interval after the last
    assert sizes[:4] == [1, 3, 3, 3] and set(sizes[1:]) == {3}
    assert sent == list(range(0, 79, 3))
    # the newest of the group 1..3 comes early, so the interval holds it back: the next frame is read on its own
    # and detected, and the groups go on from it
    sizes, sent = read_in_groups(FrameGate("cam0", Settings.of({"detect_fps": 5})), scene, early={3})
    assert sizes[:5] == [1, 3, 1, 3, 3]
    assert sent[:4] == [0, 4, 7, 10]


def test_a_change_that_holds_settles_in_the_same_stream_time_however_often_it_is_looked_at(
    frames: list[np.ndarray],
) -> None:
    before, after = frames[100], frames[100].copy()
    after[100:220, 200:360] = 255 - after[100:220, 200:360]  # a door opens and stays open
    scene = [before] * 10 + [after] * 150

    def settled(look_every: int) -> int:
        """The first frame from which the change no longer counts as motion."""
        detector, last_moved = MotionDetector(), 0
        for index, frame in enumerate(scene):
            if index % look_every:
                detector.skip()
            elif detector.changed(frame):
                last_moved = index
        return last_moved + 1

    each, sixth = settled(1), settled(6)
    assert 10 < each < 160 and abs(sixth - each) <= 6  # without the weighting, every sixth would take ~6x longer


def test_motion_regions_cover_what_moved(frames: list[np.ndarray]) -> None:
    detector = MotionDetector(MotionConfig())
    background = frames[100].copy()
    assert detector.regions(background) == [(0, 640, 360, 0)]
    assert detector.regions(background.copy()) == []
    moved = background.copy()
    moved[200:260, 400:480] = 255 - moved[200:260, 400:480]  # something appears in a 80x60 patch
    regions = detector.regions(moved)
    assert len(regions) == 1
    top, right, bottom, left = regions[0]
    assert top <= 200 and left <= 400 and bottom >= 260 and right >= 480
    assert bottom - top <= 80 and right - left <= 100
    tiny = background.copy()
    tiny[10:13, 10:13] = 255 - tiny[10:13, 10:13]  # a few pixels of noise
    quiet = MotionDetector()
    quiet.changed(background)
    assert not quiet.changed(tiny)


def test_motion_config_is_bounded() -> None:
    for bad in ({"height": 4}, {"threshold": 0}, {"min_area": 0}, {"alpha": 0.0}, {"reset_fraction": 2.0}):
        with pytest.raises(ValueError, match="motion"):
            MotionConfig(**bad)
    with pytest.raises(ValueError, match="detect_fps"):
        DetectRateConfig(detect_fps=0)


def test_carried_boxes_move_with_the_last_velocity_then_hold() -> None:
    first = observe(None, (100, 140, 140, 100), 0.0)
    assert first.velocity == (0.0, 0.0, 0.0, 0.0)
    track = observe(first, (100, 160, 140, 120), 0.2)  # 20 px right in 0.2 s: 100 px/s
    assert track.velocity == (0.0, 100.0, 0.0, 100.0)
    moving = {"frame_height": 360, "frame_width": 640, "velocity_weight": 1.0}
    assert carry_box(track, 0.3, **moving) == (100, 170, 140, 130)
    assert carry_box(track, 0.7, **moving) == (100, 210, 140, 170)  # 0.5 s at most
    assert carry_box(track, 5.0, **moving) == (100, 210, 140, 170)  # then held
    assert carry_box(track, 0.3, **{**moving, "velocity_weight": 0.5}) == (100, 165, 140, 125)
    assert carry_box(track, 0.7, **{**moving, "frame_width": 200}) == (100, 200, 140, 170)  # inside the frame
    assert carry_box(track, 0.3, frame_height=360, frame_width=640) == (100, 160, 140, 120)  # default: held
    assert observe(track, (0, 40, 40, 0), 3.0) == BoxTrack((0, 40, 40, 0), 3.0)  # a long gap: no velocity


def test_carried_boxes_follow_a_moving_face_in_the_clip(frames: list[np.ndarray]) -> None:
    """Lin sings and moves over frames 100-200: detect every 6th, carry in between, compare with HOG on each frame."""
    import face_recognition

    def hog_box(frame: np.ndarray) -> tuple[int, int, int, int] | None:
        small = cv2.cvtColor(cv2.resize(frame, (0, 0), fx=0.5, fy=0.5), cv2.COLOR_BGR2RGB)
        found = face_recognition.face_locations(small)
        return tuple(v * 2 for v in found[0]) if len(found) == 1 else None

    def overlap(a: tuple, b: tuple) -> float:
        top, bottom, left, right = max(a[0], b[0]), min(a[2], b[2]), max(a[3], b[3]), min(a[1], b[1])
        inter = max(bottom - top, 0) * max(right - left, 0)
        return inter / ((a[2] - a[0]) * (a[1] - a[3]) + (b[2] - b[0]) * (b[1] - b[3]) - inter)

    truth = {i: hog_box(frames[i]) for i in range(100, 200)}
    track, overlaps = None, []
    for i in range(100, 200):
        if (i - 100) % 6 == 0:
            if truth[i] is not None:
                track = observe(track, truth[i], i / FPS)
            continue
        if track is None or truth[i] is None:
            continue
        carried = carry_box(track, i / FPS, frame_height=360, frame_width=640)
        assert overlap(carried, truth[i]) >= 0.3, (i, carried, truth[i])  # still on the face
        overlaps.append(overlap(carried, truth[i]))
    assert len(overlaps) >= 70 and float(np.median(overlaps)) >= 0.6
