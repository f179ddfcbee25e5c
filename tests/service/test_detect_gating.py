"""End to end: which frames a replay sends to detection (detect_fps, motion, tracks due), and the boxes
carried to the others; the BlazeFace detector in the pipeline; a bad model file at start.

Replays decide in stream time (pts), so these are exact: no timings.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest

from bench.traces import read_trace
from pipeline.transport.track_hints import iou
from tests.service.test_replay import LIN, plain_loop_face_counts
from tests.support import leaks
from tests.support.supervisor_cli import cli, copy_gallery
from tests.support.testdata import CLIP_FRAMES

NAMES_IN_THE_CLIP = {LIN, "Alex Lacamoire", "Unknown"}


def replay(data: Path, video: Path, *options: str) -> tuple[dict, list[dict]]:
    trace = data / f"trace-{len(list(data.glob('trace-*')))}.jsonl"
    done = cli("--data-dir", str(data), "replay", str(video), "--json", "--trace", str(trace), *options)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout), read_trace(trace)


def detected(trace: list[dict]) -> list[int]:
    return [line["frame"] for line in trace if line["detected"]]


def as_box(face: dict) -> tuple[int, int, int, int]:
    box = face["box"]
    return box["top"], box["right"], box["bottom"], box["left"]


@pytest.fixture(scope="module")
def data(gallery_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_gallery(gallery_dir, tmp_path_factory.mktemp("gating"))


@pytest.fixture(scope="module")
def every_frame(data: Path, clip: Path) -> list[dict]:
    """HOG on every frame (detect_fps 0): the truth the carried boxes are compared with."""
    return replay(data, clip, "--detect-fps", "0")[1]


@pytest.fixture(scope="module")
def default_rate(data: Path, clip: Path) -> tuple[dict, list[dict]]:
    """The replay at the default detect_fps (5) on the clip (30 fps)."""
    return replay(data, clip)


def test_detect_fps_limits_detections_per_stream_second(
    data: Path, clip: Path, default_rate: tuple[dict, list[dict]]
) -> None:
    report, trace = default_rate
    assert [line["frame"] for line in trace] == list(range(CLIP_FRAMES))  # every frame still reaches match
    per_second = Counter(int(line["pts"]) for line in trace if line["detected"])
    assert max(per_second.values()) <= 5
    assert report["detected"] == report["stages"]["detect"]["frames_out"] == len(detected(trace))
    assert report["stages"]["match"]["frames_out"] == CLIP_FRAMES
    # the clip moves all the time: it is detected as often as allowed, once every 6 frames at 30 fps
    assert detected(trace) == list(range(0, CLIP_FRAMES, 6))
    _, slower = replay(data, clip, "--detect-fps", "2")
    assert max(Counter(int(line["pts"]) for line in slower if line["detected"]).values()) <= 2
    assert detected(slower) == list(range(0, CLIP_FRAMES, 15))


def test_faces_per_detected_frame_equal_the_plain_loops(default_rate: tuple[dict, list[dict]], clip: Path) -> None:
    expected = plain_loop_face_counts(clip, grey=True)  # the default: HOG on grey
    trace = default_rate[1]
    assert [len(trace[i]["faces"]) for i in detected(trace)] == [expected[i] for i in detected(trace)]


def test_carried_boxes_follow_the_face_between_detections(
    default_rate: tuple[dict, list[dict]], every_frame: list[dict]
) -> None:
    trace = default_rate[1]
    overlaps = []
    last_detected: dict | None = None
    for line, truth in zip(trace, every_frame, strict=True):
        if line["detected"]:
            last_detected = line
            continue
        assert last_detected is not None
        # each carried face is a track seen on the last detected frame, held at its box there, with its name
        held = {f["track"]: f for f in last_detected["faces"]}
        assert {f["track"] for f in line["faces"]} == set(held)
        for face in line["faces"]:
            assert (face["box"], face["name"]) == (held[face["track"]]["box"], held[face["track"]]["name"])
        if len(line["faces"]) == 1 and len(truth["faces"]) == 1:
            overlaps.append(iou(as_box(line["faces"][0]), as_box(truth["faces"][0])))
    assert len(overlaps) > 80
    boxes = {json.dumps(f["box"]) for line in trace if not line["detected"] for f in line["faces"]}
    assert len(boxes) > 10  # the carried box moves along with the face, from detection to detection
    assert float(np.median(overlaps)) >= 0.5 and float(np.percentile(overlaps, 10)) >= 0.3


def test_the_default_rate_names_lin_as_the_every_frame_replay_does(
    default_rate: tuple[dict, list[dict]], every_frame: list[dict]
) -> None:
    # Not exact: which detected faces get encoded depends on how far detect runs ahead of match (the hint
    # table), and so on load; quiet, 120 frames against the every-frame replay's 125 and the old loop's 121.
    trace = default_rate[1]
    assert frames_naming_lin(trace) > 100 and frames_naming_lin(every_frame) > 100
    assert {f["name"] for line in trace for f in line["faces"]} <= NAMES_IN_THE_CLIP


def write_video(path: Path, frames: list[np.ndarray], fps: float = 15.0) -> Path:
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    assert writer.isOpened()
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def still_scene() -> np.ndarray:
    """An empty room, more or less: smooth texture and a few edges, no face, the same every frame."""
    rng = np.random.default_rng(7)
    base = cv2.resize(rng.integers(40, 200, (9, 16, 3), dtype=np.uint8), (640, 360), interpolation=cv2.INTER_CUBIC)
    cv2.rectangle(base, (420, 60), (560, 300), (30, 30, 30), 4)  # a door frame
    return base


def test_a_static_scene_sends_no_frame_to_detection_after_the_first(data: Path, tmp_path: Path) -> None:
    video = write_video(tmp_path / "still.mp4", [still_scene()] * 60)
    report, trace = replay(data, video)
    assert [line["frame"] for line in trace] == list(range(60))
    assert detected(trace) == [0]
    assert report["stages"]["detect"]["frames_out"] == 1
    assert all(line["faces"] == [] for line in trace)


def test_a_scene_that_starts_moving_is_detected_within_one_interval(data: Path, tmp_path: Path) -> None:
    fps, detect_fps, starts = 15.0, 5.0, 31
    frames = []
    for index in range(60):
        frame = still_scene()
        if index >= starts:  # something walks in from the left
            x = 20 + 12 * (index - starts)
            cv2.rectangle(frame, (x, 120), (x + 60, 260), (240, 240, 240), -1)
        frames.append(frame)
    _, trace = replay(data, write_video(tmp_path / "moving.mp4", frames, fps), "--detect-fps", f"{detect_fps:g}")
    after = [i for i in detected(trace) if i > 0]
    assert after, "the moving scene was never detected"
    assert starts <= after[0] and trace[after[0]]["pts"] - trace[starts]["pts"] <= 1.0 / detect_fps + 1e-6
    # and it keeps being detected while it moves, at the detect rate
    assert len(after) >= (60 - starts) / (fps / detect_fps) - 1


def frames_naming_lin(trace: list[dict]) -> int:
    return sum(1 for line in trace if any(f["name"] == LIN for f in line["faces"]))


def test_the_replay_with_blazeface_names_lin(data: Path, clip: Path, default_rate: tuple[dict, list[dict]]) -> None:
    report, trace = replay(data, clip, "--detector", "blazeface")
    assert report["stages"]["detect"]["frames_out"] == len(detected(trace)) > 0
    # BlazeFace finds more faces than HOG (profiles, the people behind): Lin at least as often as HOG does
    assert frames_naming_lin(trace) >= frames_naming_lin(default_rate[1]) > 100
    faces_on_detected = [sum(len(line["faces"]) for line in t if line["detected"]) for t in (trace, default_rate[1])]
    assert faces_on_detected[0] > faces_on_detected[1]  # it is BlazeFace that located them, not HOG
    assert {f["name"] for line in trace for f in line["faces"]} <= NAMES_IN_THE_CLIP


@pytest.mark.parametrize("command", ["replay", "serve"])
@pytest.mark.parametrize("content", [None, b"this is not a tflite model"])
def test_a_missing_or_corrupt_model_file_is_one_clear_line_at_start(
    data: Path, clip: Path, tmp_path: Path, command: str, content: bytes | None
) -> None:
    model = tmp_path / "blazeface.tflite"
    if content is not None:
        model.write_bytes(content)
    args = [
        "--data-dir",
        str(data),
        "--detector",
        "blazeface",
        "--detector-model",
        str(model),
        "--host",
        "127.0.0.1",
        "--port",
        "1",
    ]  # serve must stop before it binds anything
    args += ["replay", str(clip)] if command == "replay" else ["serve"]
    done = cli(*args, timeout=60)
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and str(model) in lines[0], done.stderr[-2000:]
    assert ("no such file" if content is None else "not a usable .tflite model") in lines[0]
    assert "Traceback" not in done.stderr
    assert leaks.segments_of(done.pid) == []
