"""Frames kept off detection travel together (pipeline/gating/held_frames.py), match's results too
(pipeline/recognition/result_batcher.py), and none is lost or reordered on the way.

Small units for the holder and the batcher, then the real pipeline with a live camera, on a still
scene and on the clip: every frame capture published reaches match and emit once, in order, in
fewer messages than frames.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from bench.videos import empty_scene, still, write
from pipeline.gating.held_frames import FrameHolder
from pipeline.recognition.result_batcher import ResultBatcher
from pipeline.supervision.hub import RouteCounts
from pipeline.supervision.runner import Pipeline
from pipeline.transport.messages import FrameRef, FrameResult, ResultBatch
from tests.support.service_proc import poll_until
from tests.support.supervisor_cli import copy_gallery


def ref(seq: int) -> FrameRef:
    return FrameRef("cam0", "facegate-1-cam0-1", seq % 4, seq, seq / 15, 1000.0 + seq / 15, (360, 640, 3), None)


def test_held_frames_wait_at_most_the_hold_time_and_keep_their_order() -> None:
    batcher = FrameHolder("cam0", hold_s=0.5)
    held = [batcher.add(ref(i), 1000.0 + i / 15) for i in range(7)]  # 0.4 s of frames
    assert held == [None] * 7
    batch = batcher.add(ref(7), 1000.0 + 7 / 15)  # the first has now waited 0.47 s: not yet
    assert batch is None
    batch = batcher.add(ref(8), 1000.0 + 8 / 15)  # 0.53 s
    assert batch is not None and batch.camera_id == "cam0"
    assert [r.seq for r in batch.refs] == list(range(9))
    assert batcher.take() is None
    batcher.add(ref(9), 1001.0)
    assert [r.seq for r in batcher.take().refs] == [9]  # sent early, before a frame that goes to detection
    assert batcher.take() is None


def test_a_quiet_scenes_frames_wait_up_to_the_quiet_hold_time() -> None:
    batcher = FrameHolder("cam0", hold_s=0.5)
    # a quiet scene's newest frames, 5 a second: held for a second, not half of one
    held = [batcher.add(ref(i), 1000.0 + i / 5, quiet=True) for i in range(5)]  # the first has waited 0.8 s
    assert held == [None] * 5
    batch = batcher.add(ref(5), 1001.0, quiet=True)
    assert batch is not None and [r.seq for r in batch.refs] == list(range(6))


def test_results_wait_at_most_the_hold_time_and_go_at_once_when_asked() -> None:
    sent: list[ResultBatch] = []
    batcher = ResultBatcher(sent.append, hold_s=0.05)
    assert batcher.wait_s(10.0, 0.1) == 0.1  # nothing held: wait as long as the stage likes
    batcher.add(FrameResult("cam0", 1, 0.0, 10.0, []), 10.0)
    batcher.add(FrameResult("cam1", 1, 0.0, 10.0, []), 10.02)
    assert abs(batcher.wait_s(10.02, 0.1) - 0.03) < 1e-9  # until the first is due
    batcher.send_due(10.04)
    assert sent == []
    batcher.send_due(10.05)
    assert [[(r.camera_id, r.seq) for r in batch.results] for batch in sent] == [[("cam0", 1), ("cam1", 1)]]
    batcher.add(FrameResult("cam0", 2, 0.1, 10.1, []), 10.1)
    batcher.send()  # before the end of a replay
    assert [r.seq for r in sent[-1].results] == [2] and len(sent) == 2
    batcher.send()
    assert len(sent) == 2


def scene(shift: int = 0) -> np.ndarray:
    frame = np.full((360, 640, 3), 90, np.uint8)
    frame[100:200, 100 + shift : 200 + shift] = 220
    return frame


@dataclass(frozen=True)
class Run:
    """What one live camera's run left: the frames capture published, the trace's lines, the hub's counts."""

    published: int
    read: int
    lines: list[dict[str, Any]]
    routed: RouteCounts


def run_camera(data: Path, video: Path, trace: Path, frames: int) -> Run:
    """One live camera playing `video` until emit has `frames` frames, then removed; every frame accounted for."""
    pipeline = Pipeline(
        str(data), {"workers": 1}, trace=str(trace), follow_config=False, deliver_webhooks=False, log_level="WARNING"
    )

    def frames_out(kind: str) -> int:
        return int(sum(row.frames_out for row in pipeline.stage_figures() if row.kind == kind))

    try:
        pipeline.start()
        assert pipeline.wait_ready(120)
        pipeline.add_camera("cam", str(video))
        assert poll_until(lambda: frames_out("emit") >= frames, 90.0), frames_out("emit")
        row = pipeline._table.get("capture cam").row  # its stats row outlives the stage: the final count
        pipeline.remove_camera("cam")  # capture stops and sends the frames it held
        published, read = int(pipeline._board.row(row).frames_out), int(pipeline._board.row(row).frames_in)
        settled = poll_until(lambda: frames_out("emit") == frames_out("match") == published, 30.0)
        assert settled, (published, frames_out("match"), frames_out("emit"))
        routed = pipeline.route_counts()
    finally:
        pipeline.shutdown()
    lines = [json.loads(line) for line in trace.read_text().splitlines()]
    assert [line["frame"] for line in lines] == list(range(published))  # every frame once, in order
    return Run(published, read, lines, routed)


def test_a_live_still_scene_loses_no_frame_on_the_way_to_emit_and_is_detected_once(
    gallery_dir: Path, tmp_path: Path
) -> None:
    data = copy_gallery(gallery_dir, tmp_path / "data")
    run = run_camera(data, still(tmp_path / "still.mp4", 1.0, 15.0), tmp_path / "trace.jsonl", 45)  # 3 loops of it
    assert all(line["faces"] == [] for line in run.lines)
    # the first frame only: a file starting over is not a new stream, and the still scene never moves
    assert [line["frame"] for line in run.lines if line["detected"]] == [0]
    # its frames are read in groups of 3 (pipeline/gating/frame_gate.py); after a quiet second only the newest of
    # each goes on (and each loop's first frame): of the ~45 that did, 19 came before that, the rest 6 in 15
    assert run.read > 1.5 * run.published
    assert all(a["pts"] < b["pts"] for a, b in itertools.pairwise(run.lines))
    with sqlite3.connect(data / "facegate.db") as db:
        assert db.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 0  # an empty scene names no one


def test_a_live_scene_that_moves_after_a_quiet_spell_is_detected_while_it_moves(
    gallery_dir: Path, tmp_path: Path
) -> None:
    scene = empty_scene()
    moving = []
    for index in range(15):  # after 2 s of nothing, something crosses the picture for 1 s
        frame = scene.copy()
        cv2.rectangle(frame, (20 + 40 * index, 120), (80 + 40 * index, 260), (240, 240, 240), -1)
        moving.append(frame)
    video = write(tmp_path / "quiet_then_moving.mp4", [scene] * 30 + moving, 15.0)
    data = copy_gallery(gallery_dir, tmp_path / "data")
    run = run_camera(data, video, tmp_path / "trace.jsonl", 60)  # the first loop and more
    assert run.read > run.published  # the quiet spell was read in groups
    detected = [line["frame"] for line in run.lines if line["detected"]]
    # the first frame, then the crossing at the detect rate, every frame going on again: every 3rd frame, the newest
    # of its group, or the 4th when the wake-up for it came a little early (pipeline/gating/frame_gate.py)
    assert detected[0] == 0 and len(detected) >= 5
    first_crossing = detected[1]
    assert all(3 <= b - a <= 4 for a, b in itertools.pairwise(detected[1:5])), detected
    assert first_crossing >= 18  # the 18 frames of the first 1.2 s, one by one, then groups


def test_a_live_camera_with_a_face_in_view_sends_fewer_messages_than_frames_and_loses_none(
    gallery_dir: Path, clip: Path, tmp_path: Path
) -> None:
    data = copy_gallery(gallery_dir, tmp_path / "data")
    # 8 s of the clip: Lin is named at once in its shot from 4 s on (in the shot before, by 0.6 or a little over)
    run = run_camera(data, clip, tmp_path / "trace.jsonl", 240)
    published, lines, routed = run.published, run.lines, run.routed
    detected = sum(line["detected"] for line in lines)
    assert 0 < detected < published / 2  # detect_fps 5 of a 30 fps clip
    # read 6 frames at a time (a detect interval of the 29.97 fps clip), but each dated when it came, a frame
    # period after the one before, not when the group was decoded: half of them would be ~1 ms apart
    spacing = sorted(b["pts"] - a["pts"] for a, b in itertools.pairwise(lines))
    assert spacing[len(spacing) // 4] > 0.8 / 29.97 and spacing[3 * len(spacing) // 4] < 1.25 / 29.97, spacing
    named = [(line["frame"], line["detected"], [face["name"] for face in line["faces"]]) for line in lines]
    assert any("Lin-Manuel Miranda" in names for _, detected, names in named if not detected), named
    # one message per frame for detection, the others held together; the results in batches
    assert routed.messages["FrameRef"] == routed.detected == detected
    assert routed.undetected == published - detected
    assert 0 < routed.messages["HeldFrames"] <= detected + 1
    assert 0 < routed.messages["ResultBatch"] < published / 2
