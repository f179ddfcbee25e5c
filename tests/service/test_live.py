"""Live operation with the real pipeline: an HTTP MJPEG camera that goes away and comes back,
two cameras at once, and the latest-frame view behind snapshots."""

from __future__ import annotations

import os
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from facegate.logsetup import setup_logging
from facegate.settings import defaults
from pipeline.supervision.runner import Pipeline
from pipeline.view.overlay import KNOWN_COLOUR, UNKNOWN_COLOUR, draw_faces, to_jpeg
from tests.support import leaks
from tests.support.mjpeg_server import MjpegCamera, load_jpegs
from tests.support.service_proc import poll_until
from tests.support.supervisor_cli import copy_gallery

LIN = "Lin-Manuel Miranda"


def wait_for(
    condition: Callable[[], object], timeout: float, what: str, shows: Callable[[], object] | None = None
) -> None:
    """Poll `condition` every 0.1 s for at most `timeout` seconds; on a timeout say what `shows` then shows."""
    if not poll_until(condition, timeout, 0.1):
        seen = f"; {shows()}" if shows is not None else ""
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{seen}")


def figures(pipeline: Pipeline, camera_id: str) -> str:
    """A camera's newest result and every stage's counters: what a timeout needs to be told apart (a stalled
    capture, shed or lost detections, a stage restarted, detections that find no face, or faces not named).
    Seen once in CI: the file camera's frames flowing (1790 in 60 s) and detected, with no face on its newest."""
    rows = ", ".join(
        f"{r.name} in {r.frames_in:.0f} out {r.frames_out:.0f} drops {r.drops:.0f} shed {r.shed:.0f}"
        f" lost {r.lost:.0f} faces {r.faces:.0f} encodings {r.encodings:.0f} restarts {r.restarts} alive {r.alive}"
        for r in pipeline.stage_figures()
    )
    result = pipeline.latest_results.get(camera_id)
    kind = "none" if result is None else f"detected {result.detected} lost {result.lost}"
    latest = frames_seen(pipeline, camera_id), sorted(names_in_latest(pipeline, camera_id))
    return f"{camera_id} at frame {latest[0]} ({kind}) naming {latest[1]}; {rows}"


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
    assert leaks.segments_of(os.getpid()) == []


def state(pipeline: Pipeline, camera_id: str) -> str | None:
    status = pipeline.camera_status.get(camera_id)
    return status.state if status else None


def frames_seen(pipeline: Pipeline, camera_id: str) -> int:
    result = pipeline.latest_results.get(camera_id)
    return -1 if result is None else result.seq


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
        before = frames_seen(pipeline, "door")
        camera.start()
        wait_for(lambda: state(pipeline, "door") == "live", 40, "state live again")
        wait_for(
            lambda: frames_seen(pipeline, "door") > before and LIN in names_in_latest(pipeline, "door"),
            30,
            "Lin-Manuel Miranda named again in a frame after the reconnect",
        )
        restarts = sum(row.restarts for row in pipeline.stage_figures())
        assert restarts == 0  # the camera reconnected by itself; no stage was restarted
    finally:
        camera.stop()


def test_two_cameras_run_at_once_and_one_dying_leaves_the_other_alone(
    pipeline: Pipeline, jpegs: list[bytes], clip: Path
) -> None:
    camera = MjpegCamera(jpegs).start()
    try:
        pipeline.add_camera("web", camera.url)
        pipeline.add_camera("file", str(clip))
        wait_for(lambda: frames_seen(pipeline, "web") > 60 and frames_seen(pipeline, "file") > 60, 60, "both cameras")
        # Longer than the watchdog's stall limit (30 s) and a restart: a capture that hung once (seen in CI, its
        # cause unknown; the watchdog now logs the hung stage's stack) is healed as in production, not failed here.
        wait_for(
            lambda: {"web", "file"} <= {c for c, names in event_cameras(pipeline).items() if LIN in names},
            90,
            "events from both cameras",
            lambda: figures(pipeline, "file"),
        )
        camera.stop()
        wait_for(lambda: state(pipeline, "web") in ("reconnecting", "failed"), 20, "web camera down")
        file_at = frames_seen(pipeline, "file")
        # While the web camera is down, the file camera's frames keep going through recognition and
        # keep naming Lin (its rate is a figure of `make bench`, not an assertion here).
        polled: Counter[str] = Counter()  # the names on the file camera's newest frame at each poll, for a timeout

        def file_names_lin() -> bool:
            names = names_in_latest(pipeline, "file")
            polled.update(names or {"(no face)"})
            return frames_seen(pipeline, "file") >= file_at + 90 and LIN in names

        wait_for(
            file_names_lin,
            60,
            f"three seconds of the file camera (from frame {file_at}), recognized, while the web camera is down",
            lambda: f"{figures(pipeline, 'file')}; its newest frame's names over the polls: {dict(polled)}",
        )
        assert state(pipeline, "file") == "live"
        assert state(pipeline, "web") in ("reconnecting", "failed")
    finally:
        camera.stop()


def test_latest_view_is_a_frame_of_the_cameras_size_with_faces_drawn(pipeline: Pipeline, clip: Path) -> None:
    pipeline.add_camera("cam0", str(clip))
    wait_for(
        lambda: any(f.name == LIN for f in getattr(pipeline.latest_results.get("cam0"), "faces", [])),
        60,
        "a named face",
    )
    frame, result = pipeline.latest_view("cam0")
    assert frame.shape == (360, 640, 3) and result is not None and result.faces
    drawn = decode(to_jpeg(draw_faces(frame.copy(), result)))
    plain = decode(to_jpeg(frame.copy()))  # the same frame through the same JPEG encoder, nothing drawn
    assert drawn.shape == (360, 640, 3)
    difference = np.abs(drawn.astype(int) - plain.astype(int)).max(axis=2)
    near = np.zeros(difference.shape, bool)
    for face in result.faces:
        top, right, bottom, left = face.box
        outline = np.zeros(difference.shape, bool)
        outline[top : bottom + 1, left : right + 1] = True
        outline[top + 2 : bottom - 1, left + 2 : right - 1] = False  # the 2-pixel frame of the box
        colour = np.array(KNOWN_COLOUR if face.name != "Unknown" else UNKNOWN_COLOUR)
        assert np.median(np.abs(drawn[outline].astype(int) - colour).max(axis=1)) < 40, "the box is in its colour"
        assert (difference[outline] > 40).mean() > 0.8, "the box outline was drawn"
        # the label sits under the box (shifted left at the right edge); JPEG blocks are 16 px
        near[max(top - 24, 0) :, max(min(left, 640 - 260) - 24, 0) : right + 260] = True
    assert difference[~near].max() == 0, "nothing is drawn away from the faces"


def decode(jpeg: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)


def names_in_latest(pipeline: Pipeline, camera_id: str) -> set[str]:
    """The names on the camera's newest matched frame."""
    return {face.name for face in getattr(pipeline.latest_results.get(camera_id), "faces", [])}
