"""One camera going down and coming back: the other camera's rate meanwhile, and how soon it is named again.

The tests check behaviour only (the other camera keeps naming Lin while one is down; after a
reconnect a name comes back); the rates and seconds are these figures. The pipeline runs in this
process (as bench/capacity.py) with two cameras: "file", the clip as a looping file at its own
30 fps, and "web", an MJPEG camera on 127.0.0.1 serving the clip's frames at 30 fps. The file
camera's frames through match per second are counted over a window with both cameras live, and
over one while the web camera is down; then the web camera serves again, and the seconds until it
is `live` and until a frame of it names Lin-Manuel Miranda are timed from that moment.

`python -m bench.camera_down`
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.fixtures import CLIP, LIN, faces_dir, register_people
from tests.support.mjpeg_server import MjpegCamera, load_jpegs

WINDOW_S = 10.0  # each counted window
SETTLE_S = 3.0  # after a change, before a window starts
LIMIT_S = 90.0  # bound of every wait


def _until(condition: Callable[[], bool], what: str) -> float:
    """Seconds until `condition()` holds (bounded by LIMIT_S)."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > LIMIT_S:
            raise RuntimeError(f"no {what} within {LIMIT_S:.0f} s")
        time.sleep(0.05)
    return time.monotonic() - started


def _seq(pipeline: Any, camera_id: str) -> int:
    """The frame number of the camera's newest matched frame (-1 before the first)."""
    result = pipeline.latest_results.get(camera_id)
    return -1 if result is None else result.seq


def _rate(pipeline: Any, camera_id: str) -> float:
    """The camera's frames through match per second over WINDOW_S (frame numbers, so loops of the file count)."""
    first, started = _seq(pipeline, camera_id), time.monotonic()
    time.sleep(WINDOW_S)
    return (_seq(pipeline, camera_id) - first) / (time.monotonic() - started)


def _state(pipeline: Any, camera_id: str) -> str | None:
    status = pipeline.camera_status.get(camera_id)
    return status.state if status else None


def _names(pipeline: Any, camera_id: str) -> set[str]:
    return {face.name for face in getattr(pipeline.latest_results.get(camera_id), "faces", [])}


def measure(clip: Path, data_dir: Path) -> dict[str, Any]:
    """The file camera's fps with both cameras live and while the web one is down; the web one's return."""
    from facegate.settings import Settings
    from pipeline.supervision.runner import Pipeline

    camera = MjpegCamera(load_jpegs(clip)).start()
    pipeline = Pipeline(
        str(data_dir), Settings.of({}), follow_config=False, deliver_webhooks=False, log_level="WARNING"
    )
    try:
        pipeline.start()
        if not pipeline.wait_ready(120.0):
            raise RuntimeError("the pipeline did not become ready")
        pipeline.add_camera("file", str(clip))
        pipeline.add_camera("web", camera.url)
        _until(lambda: _state(pipeline, "web") == "live" and _seq(pipeline, "file") > 60, "both cameras live")
        time.sleep(SETTLE_S)
        both_live = _rate(pipeline, "file")
        camera.stop()
        _until(lambda: _state(pipeline, "web") in ("reconnecting", "failed"), "web camera down")
        time.sleep(SETTLE_S)
        one_down = _rate(pipeline, "file")
        after = _seq(pipeline, "web")
        camera.start()
        live_s = _until(lambda: _state(pipeline, "web") == "live", "web camera live again")
        named_s = _until(
            lambda: _seq(pipeline, "web") > after and LIN in _names(pipeline, "web"),
            "Lin named on the web camera again",
        )
    finally:
        pipeline.shutdown()
        camera.stop()
    return {
        "file_fps_both_live": round(both_live, 1),
        "file_fps_web_down": round(one_down, 1),
        "ratio": round(one_down / both_live, 3) if both_live else 0.0,
        "web_live_again_s": round(live_s, 2),
        "web_names_lin_again_s": round(live_s + named_s, 2),
    }


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="facegate-bench-") as tmp:
        register_people(Path(tmp) / "data", faces_dir())
        print(json.dumps(measure(faces_dir() / CLIP, Path(tmp) / "data"), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
