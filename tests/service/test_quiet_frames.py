"""Frames of an empty scene travel together (pipeline/gating/quiet_frames.py) and none is lost or reordered on the way.

Small units for the batcher and for which frames count as quiet, then the real pipeline with a
live camera on a still scene: every frame capture published reaches match and emit, in order.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np

from bench.videos import still
from facegate.settings import Settings
from pipeline.gating.frame_gate import FrameGate
from pipeline.gating.quiet_frames import QuietBatcher
from pipeline.supervision.runner import Pipeline
from pipeline.transport.messages import FrameRef
from pipeline.transport.track_hints import HINT, HINT_ROWS, HintTable
from tests.support.service_proc import poll_until
from tests.support.supervisor_cli import copy_gallery


def ref(seq: int) -> FrameRef:
    return FrameRef("cam0", "facegate-1-cam0-1", seq % 4, seq, seq / 15, 1000.0 + seq / 15, (360, 640, 3), None)


def test_quiet_frames_wait_at_most_the_flush_time_and_keep_their_order() -> None:
    batcher = QuietBatcher("cam0", flush_s=0.5)
    held = [batcher.add(ref(i), 1000.0 + i / 15) for i in range(7)]  # 0.4 s of frames
    assert held == [None] * 7
    batch = batcher.add(ref(7), 1000.0 + 7 / 15)  # the first has now waited 0.47 s: not yet
    assert batch is None
    batch = batcher.add(ref(8), 1000.0 + 8 / 15)  # 0.53 s
    assert batch is not None and batch.camera_id == "cam0"
    assert [r.seq for r in batch.refs] == list(range(9))
    assert batcher.take() is None
    batcher.add(ref(9), 1001.0)
    assert [r.seq for r in batcher.take().refs] == [9]  # sent early, before a frame that is not quiet
    assert batcher.take() is None


def scene(shift: int = 0) -> np.ndarray:
    frame = np.full((360, 640, 3), 90, np.uint8)
    frame[100:200, 100 + shift : 200 + shift] = 220
    return frame


def test_only_a_still_frame_of_a_camera_without_tracks_and_not_for_detection_is_quiet() -> None:
    gate, table = FrameGate("cam0", Settings.of({"detect_fps": 5})), HintTable(np.zeros((HINT_ROWS,), dtype=HINT))
    assert gate.decide(scene(), 0.0, table) is not None and not gate.quiet  # the first frame is detected
    assert gate.decide(scene(), 0.1, table) is None and gate.quiet
    gate.decide(scene(40), 0.2, table)
    assert not gate.quiet  # something moved (detected)
    gate.decide(scene(80), 0.25, table)
    assert not gate.quiet  # moved again, too soon to detect: still not quiet
    for i in range(30):  # the scene settles
        gate.decide(scene(80), 0.3 + i / 15, table)
    assert gate.quiet
    table.publish(0, 1, (10, 60, 60, 10), 1.0, 2.0, (10, 60, 60, 10), True)
    assert gate.decide(scene(80), 2.35, table) is not None and not gate.quiet  # the track is due at once
    assert gate.decide(scene(80), 2.40, table) is None and not gate.quiet  # not detected, but a track is there
    every = FrameGate("cam0", Settings.of({"detect_fps": 0}))
    every.decide(scene(), 0.0, None)
    every.decide(scene(), 0.1, None)
    assert not every.quiet


def test_a_live_still_scene_loses_no_frame_on_the_way_to_emit(gallery_dir: Path, tmp_path: Path) -> None:
    video = still(tmp_path / "still.mp4", 4.0, 15.0)
    data = copy_gallery(gallery_dir, tmp_path / "data")
    trace = tmp_path / "trace.jsonl"
    pipeline = Pipeline(
        str(data), {"workers": 1}, trace=str(trace), follow_config=False, deliver_webhooks=False, log_level="WARNING"
    )

    def frames_out(kind: str) -> int:
        return int(sum(row.frames_out for row in pipeline.stage_figures() if row.kind == kind))

    try:
        pipeline.start()
        assert pipeline.wait_ready(120)
        pipeline.add_camera("still", str(video))
        assert poll_until(lambda: frames_out("emit") >= 45, 60.0), frames_out("emit")  # 3 s of the scene through
        row = pipeline._table.get("capture still").row  # its stats row outlives the stage: the final count
        pipeline.remove_camera("still")  # capture stops and sends the frames it held
        published = int(pipeline._board.row(row).frames_out)
        settled = poll_until(lambda: frames_out("emit") == frames_out("match") == published, 30.0)
        assert settled, (published, frames_out("match"), frames_out("emit"))
    finally:
        pipeline.shutdown()
    lines = [json.loads(line) for line in trace.read_text().splitlines()]
    assert [line["frame"] for line in lines] == list(range(published))  # every frame once, in order
    assert all(line["faces"] == [] for line in lines)
    assert sum(line["detected"] for line in lines) >= 1  # the first frame (and each loop's first) is detected
    with sqlite3.connect(data / "facegate.db") as db:
        assert db.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 0  # an empty scene names no one
