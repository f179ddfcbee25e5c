"""The old Flask script's single-process loop, re-implemented as the baseline the pipeline must beat.

Per frame, as that script did: shrink to half size, BGR to RGB, HOG face locations, an encoding
for EVERY face, its distance to every known encoding, the nearest named when within the
threshold, boxes scaled back to full-frame pixels. Nothing is skipped or remembered between
frames: that is what made it slow, and what the bench compares against. It can write a trace in
the pipeline's own format (pipeline.emit.trace_line) so the two runs can be compared frame by frame.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pipeline.emit import trace_line
from pipeline.transport.messages import FaceResult, FrameResult

UNKNOWN = "Unknown"
LOOP_TRACK = 0  # the loop follows no tracks; the pipeline's track ids start at 1
MAX_FRAMES = 100_000
TIME_LIMIT_S = 900.0


def known_faces(data_dir: str | Path) -> tuple[np.ndarray, list[str]]:
    """The registered encodings and their names, read back from the store the pipeline uses."""
    from facegate.store import Store

    store = Store(data_dir)
    try:
        return store.gallery.all_vectors()
    finally:
        store.close()


def file_fps(cap: cv2.VideoCapture) -> float:
    """The file's frame rate, with the same fallback as pipeline/capture.py, so pts agree between traces."""
    fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
    return fps if 1.0 <= fps <= 240.0 else 25.0


def name_face(distances: np.ndarray, names: list[str], threshold: float) -> tuple[str, float]:
    """The nearest known name within the threshold, else Unknown; 1.0 as the distance when nobody is known."""
    if len(distances) == 0:
        return UNKNOWN, 1.0
    best = int(np.argmin(distances))
    distance = float(distances[best])
    return (names[best] if distance <= threshold else UNKNOWN), distance


def run_loop(
    video: str | Path,
    known: np.ndarray,
    names: list[str],
    *,
    threshold: float = 0.6,
    downscale: float = 0.5,
    trace: str | Path | None = None,
    max_frames: int = MAX_FRAMES,
    time_limit_s: float = TIME_LIMIT_S,
) -> dict[str, Any]:
    """Run the old loop over every frame of `video`; returns its figures (fps, ms per frame, counts)."""
    import face_recognition

    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise RuntimeError(f"{video}: cannot open")
    fps = file_fps(cap)
    records: list[str] = []
    frame_ms: list[float] = []
    faces = encodings = 0
    cpu_started = time.process_time()
    started = time.perf_counter()
    try:
        for index in range(max_frames):
            if time.perf_counter() - started > time_limit_s:
                raise RuntimeError(f"the loop ran over {time_limit_s:.0f} s after {index} frames")
            frame_started = time.perf_counter()
            ok, frame = cap.read()
            if not ok:
                break
            small = cv2.resize(frame, (0, 0), fx=downscale, fy=downscale)
            rgb = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
            locations = face_recognition.face_locations(rgb, model="hog")
            found = face_recognition.face_encodings(rgb, locations)
            results = []
            for (top, right, bottom, left), encoding in zip(locations, found, strict=True):
                name, distance = name_face(face_recognition.face_distance(known, encoding), names, threshold)
                box = (int(top / downscale), int(right / downscale), int(bottom / downscale), int(left / downscale))
                results.append(FaceResult(box, name, round(distance, 3), LOOP_TRACK))
            faces += len(locations)
            encodings += len(found)
            frame_ms.append((time.perf_counter() - frame_started) * 1000.0)
            if trace is not None:
                records.append(trace_line(FrameResult("loop", index, index / fps, time.time(), results)))
        elapsed = time.perf_counter() - started
        cpu_s = time.process_time() - cpu_started
    finally:
        cap.release()
    if trace is not None:
        Path(trace).write_text("".join(line + "\n" for line in records), encoding="utf-8")
    frames = len(frame_ms)
    p50, p95 = np.percentile(frame_ms, (50, 95)) if frame_ms else (0.0, 0.0)
    return {
        "frames": frames,
        "elapsed_s": round(elapsed, 3),
        "fps": round(frames / elapsed, 2) if elapsed > 0 else 0.0,
        "ms_p50": round(float(p50), 2),
        "ms_p95": round(float(p95), 2),
        "cpu_s": round(cpu_s, 2),
        "faces": faces,
        "encodings": encodings,
        "encodings_per_sighting": round(encodings / faces, 3) if faces else 0.0,
    }
