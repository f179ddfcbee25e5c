"""Live operation with the real pipeline: an HTTP MJPEG camera that goes away and comes back,
two cameras at once, and the latest-frame view behind snapshots."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from facegate.logsetup import setup_logging
from facegate.settings import defaults
from pipeline.overlay import draw_faces, to_jpeg
from pipeline.runner import Pipeline
from tests.conftest import copy_gallery, facegate_segments
from tests.mjpeg_server import MjpegCamera, load_jpegs
from tests.service_proc import poll_until

LIN = "Lin-Manuel Miranda"


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> None:
    """Poll `condition` every 0.1 s for at most `timeout` seconds."""
    if not poll_until(condition, timeout, 0.1):
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture(scope="module")
def jpegs(clip: Path) -> list[bytes]:
    return load_jpegs(clip)


@pytest.fixture
def pipeline(gallery_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pipeline]:
    monkeypatch.setenv("FACEGATE_WEBHOOKS", "off")
    setup_logging("INFO")
    data = copy_gallery(gallery_dir, tmp_path / "data")
    settings = {**defaults(), "workers": 2, "event_cooldown_s": 2.0}
    running = Pipeline(str(data), settings, follow_config=False)
    running.start()
    assert running.wait_ready(120)
    try:
        yield running
    finally:
        running.shutdown()
    assert [s for s in facegate_segments() if s.startswith(running.prefix)] == []


def state(pipeline: Pipeline, camera_id: str) -> str | None:
    status = pipeline.camera_status.get(camera_id)
    return status.state if status else None


def frames_seen(pipeline: Pipeline, camera_id: str) -> int:
    result = pipeline.latest_results.get(camera_id)
    return -1 if result is None else result.seq


def capture_fps(pipeline: Pipeline, camera_id: str) -> float:
    return next(row.fps for row in pipeline.stage_figures() if row.name == f"capture {camera_id}")


def event_cameras(pipeline: Pipeline) -> dict[str, set[str]]:
    with sqlite3.connect(Path(pipeline.data_dir) / "facegate.db") as db:
        rows = db.execute("SELECT camera_id, name FROM results").fetchall()
    found: dict[str, set[str]] = {}
    for camera_id, name in rows:
        found.setdefault(camera_id, set()).add(name)
    return found


def test_camera_reconnects_when_its_source_comes_back(pipeline: Pipeline, jpegs: list[bytes]) -> None:
    camera = MjpegCamera(jpegs).start()
    try:
        pipeline.add_camera("door", camera.url)
        wait_for(lambda: state(pipeline, "door") == "live" and frames_seen(pipeline, "door") > 30, 60, "frames")
        wait_for(lambda: LIN in event_cameras(pipeline).get("door", set()), 30, "Lin-Manuel Miranda on door")
        camera.stop()
        wait_for(lambda: state(pipeline, "door") == "reconnecting", 20, "state reconnecting")
        assert pipeline.camera_status["door"].error
        camera.start()
        wait_for(lambda: state(pipeline, "door") == "live", 40, "state live again")
        before = frames_seen(pipeline, "door")
        wait_for(lambda: 0 <= frames_seen(pipeline, "door") != before and frames_seen(pipeline, "door") > 30, 30,
                 "recognition to resume")
        restarts = sum(row.restarts for row in pipeline.stage_figures())
        assert restarts == 0  # the camera reconnected by itself; no stage was restarted
    finally:
        camera.stop()


def test_two_cameras_run_at_once_and_one_dying_leaves_the_other_alone(pipeline: Pipeline, jpegs: list[bytes],
                                                                    clip: Path) -> None:
    camera = MjpegCamera(jpegs).start()
    try:
        pipeline.add_camera("web", camera.url)
        pipeline.add_camera("file", str(clip))
        wait_for(lambda: frames_seen(pipeline, "web") > 60 and frames_seen(pipeline, "file") > 60, 60, "both cameras")
        wait_for(lambda: {"web", "file"} <= {c for c, names in event_cameras(pipeline).items() if LIN in names}, 30,
                 "events from both cameras")
        time.sleep(2.5)  # the fps window is 2 s
        fps_before = capture_fps(pipeline, "file")
        camera.stop()
        wait_for(lambda: state(pipeline, "web") in ("reconnecting", "failed"), 20, "web camera down")
        time.sleep(2.5)
        fps_after = capture_fps(pipeline, "file")
        assert fps_before > 20  # the clip plays at its own 30 fps
        assert fps_after >= 0.85 * fps_before
        assert state(pipeline, "file") == "live"
    finally:
        camera.stop()


def test_latest_view_is_a_frame_of_the_cameras_size_with_faces_drawn(pipeline: Pipeline, clip: Path) -> None:
    pipeline.add_camera("cam0", str(clip))
    wait_for(lambda: any(f.name == LIN for f in getattr(pipeline.latest_results.get("cam0"), "faces", [])), 60,
             "a named face")
    frame, result = pipeline.latest_view("cam0")
    assert frame.shape == (360, 640, 3) and result is not None
    jpeg = to_jpeg(draw_faces(frame.copy(), result))
    decoded = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == (360, 640, 3)
    assert np.abs(decoded.astype(int) - frame.astype(int)).mean() > 0.1  # boxes were drawn on it
