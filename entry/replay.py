"""`supervisor.py replay VIDEO`: every frame of a file through the real pipeline, then a report."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2

from facegate.settings import Settings
from pipeline.runtime.stage_kind import StageKind

if TYPE_CHECKING:
    from pipeline.supervision.runner import Pipeline

log = logging.getLogger("facegate.replay")  # the name operators know

STALL_LIMIT_S = 120.0


class ReplayError(RuntimeError):
    """The replay could not run; the message is for the person at the terminal."""


def check_video(path: str) -> int:
    """Frames in the file (0 when unknown); ReplayError when it is missing or undecodable."""
    if not Path(path).is_file():
        raise ReplayError(f"{path}: no such file")
    cap = cv2.VideoCapture(path)
    try:
        ok, _ = cap.read() if cap.isOpened() else (False, None)
        if not ok:
            raise ReplayError(f"{path}: not a video OpenCV can decode")
        return int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    finally:
        cap.release()


class Progress:
    """A one-line progress bar on a terminal (frames, fps, ETA); silent when stderr is not a terminal."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.enabled = total, enabled and sys.stderr.isatty()
        self.started = time.monotonic()

    def show(self, done: int) -> None:
        if not self.enabled:
            return
        elapsed = max(time.monotonic() - self.started, 1e-6)
        fps = done / elapsed
        eta = (self.total - done) / fps if fps > 0 and self.total else 0.0
        width = 30
        filled = int(width * done / self.total) if self.total else 0
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{self.total or '?'} frames"
            f"  {fps:5.1f} fps  ETA {eta:4.0f} s "
        )
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def run_replay(
    video: str,
    data_dir: str,
    settings: Settings,
    *,
    trace: str | None = None,
    pace: bool = False,
    progress: bool = True,
    log_level: str | None = None,
) -> dict[str, Any]:
    """Replay the file and return the run's figures; raises ReplayError on bad input or a stalled run."""
    total = check_video(video)
    from pipeline.runtime.run_mode import Mode
    from pipeline.supervision.runner import Pipeline

    camera_id = settings.camera_id or "cam0"
    pipeline = Pipeline(
        data_dir,
        settings,
        mode=Mode(replay=True, pace=pace),
        trace=trace,
        follow_config=False,
        deliver_webhooks=True,
        log_level=log_level,
    )
    bar = Progress(total, progress)
    try:
        pipeline.start()
        if not pipeline.wait_ready(120.0):
            raise ReplayError("the pipeline's stages did not become ready")
        started = time.monotonic()
        pipeline.add_camera(camera_id, str(Path(video).resolve()))
        last_progress, last_done = time.monotonic(), -1
        while not pipeline.wait_done(0.2):
            done = pipeline.frames_written()
            bar.show(done)
            if done != last_done:
                last_progress, last_done = time.monotonic(), done
            elif time.monotonic() - last_progress > STALL_LIMIT_S:
                raise ReplayError(f"no progress for {STALL_LIMIT_S:.0f} s after {done} frames")
        frames, finished, failed = pipeline.replay_outcome(camera_id)
        elapsed = (finished or time.monotonic()) - started  # frames only: webhooks draining are not the pipeline's
        if failed:
            raise ReplayError(f"{video}: {failed}")
        bar.show(frames)
        time.sleep(0.3)  # let the stages publish their last figures
        return summarize(pipeline, camera_id, elapsed)
    finally:
        bar.close()
        pipeline.shutdown()


def summarize(pipeline: Pipeline, camera_id: str, elapsed: float) -> dict[str, Any]:
    stages = pipeline.figures_by_kind(elapsed)
    frames = pipeline.replay_outcome(camera_id)[0]
    detect = stages.get("detect", {})
    match = stages.get("match", {})
    return {
        "frames": frames,
        "elapsed_s": round(elapsed, 3),
        "fps": round(frames / elapsed, 2) if elapsed > 0 else 0.0,
        "faces": detect.get("faces", 0),
        "encodings": detect.get("encodings", 0),
        "detected": detect.get("frames_out", 0),  # frames sent to detection (detect_fps, motion, tracks due)
        "events": pipeline.events,
        "drops": sum(s.get("drops", 0) for s in stages.values()),
        "lost": detect.get("lost", 0),
        "restarts": sum(s.get("restarts", 0) for s in stages.values()),
        "peak_rss_mb": round(pipeline.peak_rss_mb, 1),
        "latency_ms": match.get("latency_ms", {"p50": 0.0, "p95": 0.0}),
        "stages": stages,
    }


COLUMNS = (
    "frames_in",
    "frames_out",
    "fps",
    "ms_p50",
    "ms_p95",
    "faces",
    "encodings",
    "drops",
    "queue_hwm",
    "cpu_s",
    "restarts",
)


def format_table(report: dict[str, Any]) -> str:
    """The per-stage table `replay` prints for people."""
    lines = [f"{'stage':<8}" + "".join(f"{c:>11}" for c in COLUMNS)]
    for kind in StageKind:
        row = report["stages"].get(kind)
        if row:
            lines.append(f"{kind:<8}" + "".join(f"{row.get(c, 0):>11}" for c in COLUMNS))
    lines.append(
        f"{report['frames']} frames in {report['elapsed_s']:.2f} s = {report['fps']:.1f} fps; "
        f"{report['faces']} faces, {report['encodings']} encodings, {report['events']} events, "
        f"latency p50/p95 {report['latency_ms']['p50']}/{report['latency_ms']['p95']} ms, "
        f"peak memory {report['peak_rss_mb']:.0f} MB"
    )
    return "\n".join(lines)


def print_report(report: dict[str, Any], as_json: bool) -> None:
    print(json.dumps(report) if as_json else format_table(report), flush=True)
