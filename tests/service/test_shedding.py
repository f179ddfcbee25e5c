"""Past what detection keeps up with, a live camera loses detections, not frames (pipeline/capture.py).

The real pipeline with one live camera on the clip and one detect worker; the worker is frozen
(SIGSTOP) for 5 s, as a machine with too many cameras would leave it behind. Before shedding, the
frames waiting for detection filled the camera's ring in about 2 s and every frame after was
dropped; now at most all but `SPARE_SLOTS` of its slots hold waiting frames (4 of the 8 with one worker),
the frames the gate chose for detection meanwhile go on undetected (counted as shed), and every frame
still reaches match.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from pipeline.runtime.stats import StageFigures
from pipeline.supervision.runner import Pipeline
from tests.support.service_proc import poll_until

FROZEN_S = 5.0


def totals(pipeline: Pipeline) -> dict[str, float]:
    rows: list[StageFigures] = pipeline.stage_figures()
    capture = [r for r in rows if r.kind == "capture"]
    return {
        "read": sum(r.frames_in for r in capture),
        "dropped": sum(r.drops for r in capture),
        "shed": sum(r.shed for r in capture),
        "matched": sum(r.frames_out for r in rows if r.kind == "match"),
        "detected": sum(r.frames_out for r in rows if r.kind == "detect"),
    }


def test_a_frozen_detect_worker_costs_detections_not_frames(clip: Path, tmp_path: Path) -> None:
    pipeline = Pipeline(
        str(tmp_path / "data"), {"workers": 1}, follow_config=False, deliver_webhooks=False, log_level="WARNING"
    )
    frozen: int | None = None
    try:
        pipeline.start()
        assert pipeline.wait_ready(120)
        pipeline.add_camera("cam", str(clip))
        assert poll_until(lambda: totals(pipeline)["detected"] >= 3, 60.0), totals(pipeline)
        worker = next(r for r in pipeline.stage_figures() if r.kind == "detect")
        frozen = int(worker.pid)
        os.kill(frozen, signal.SIGSTOP)
        before = totals(pipeline)
        time.sleep(FROZEN_S)
        during = {k: v - before[k] for k, v in totals(pipeline).items()}
        os.kill(frozen, signal.SIGCONT)
        frozen = None
        # 5 s at detect_fps 5 chose ~25 frames for detection: the first few wait, the rest go on undetected
        assert during["shed"] >= 10, during
        assert during["dropped"] == 0, during
        assert during["detected"] <= 1, during  # the worker was frozen (one may have been on its way out)
        # the frames read go on to match (which skips the few that wait, after its 1 s reorder wait)
        assert during["read"] >= 50 and during["matched"] >= 0.5 * during["read"], during
        # thawed, the worker takes the waiting frames and detection goes on
        thawed = totals(pipeline)
        assert poll_until(lambda: totals(pipeline)["detected"] - thawed["detected"] >= 5, 30.0), totals(pipeline)
    finally:
        if frozen is not None:
            os.kill(frozen, signal.SIGCONT)
        pipeline.shutdown()
