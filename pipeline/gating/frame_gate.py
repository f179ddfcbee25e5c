"""Which of a camera's frames go to detection: the capture side of "detect only when it helps".

Capture asks `FrameGate.decide` for every frame it decoded. The answer combines three things,
all in stream time (the frame's pts, so a replay decides as live would):
* the camera's `detect_fps` (its own in `cameras`, else the global one): at most that many
  detections per stream second, always on the newest frame (capture asks as it decodes, so
  there is no backlog to choose from);
* motion (pipeline/gating/motion.py) seen since the last detected frame, looked for at most `detect_fps`
  times a stream second: only on frames the rate would let through, and in a quiet scene on every
  n-th frame (a third at 15 fps and detect_fps 5), so a person walking in waits at most one interval more;
* a track being due: match publishes its tracks in the ring's hint table, and a frame goes to
  detection when a track's re-check is due, or when tracks exist and the camera went
  `TRACK_KEEPALIVE_S` without a detection (a person standing still must not be dropped as gone:
  match forgets a track unseen for a second).
`detect_fps` 0 sends every frame (no motion check at all): the reference loop's work, for comparisons.
"""

from __future__ import annotations

import numpy as np

from facegate.settings import Settings
from pipeline.gating.motion import MotionConfig, MotionDetector
from pipeline.gating.rate_gate import DetectGate, DetectRateConfig
from pipeline.transport.messages import Reason
from pipeline.transport.track_hints import HintTable

TRACK_KEEPALIVE_S = 0.5  # half of match's track lifetime (pipeline/tracker.TRACK_TTL_S)


class FrameGate:
    """One per camera, in its capture process; `configure` again after a config change."""

    def __init__(self, camera_id: str, settings: Settings) -> None:
        self.camera_id = camera_id
        self.detect_fps = -1.0
        self.motion_config: MotionConfig | None = None
        self.gate: DetectGate | None = None
        self.motion: MotionDetector | None = None
        self.configure(settings)

    def configure(self, settings: Settings) -> None:
        """Take the settings that concern this camera; the gate and motion history survive unchanged values."""
        detect_fps = settings.detect_fps_for(self.camera_id)
        motion_config = MotionConfig(threshold=settings.motion_threshold, min_area=settings.motion_min_area)
        if detect_fps != self.detect_fps:
            self.detect_fps = detect_fps
            self.gate = DetectGate(DetectRateConfig(detect_fps)) if detect_fps > 0 else None
        if motion_config != self.motion_config:
            self.motion_config = motion_config
            self.motion = MotionDetector(motion_config)

    def decide(self, frame_bgr: np.ndarray, pts: float, hints: HintTable | None) -> Reason | None:
        """The reason the frame at `pts` goes to detection, or None: its faces are carried by match."""
        if self.gate is None:
            return Reason.EVERY
        assert self.motion is not None
        if self.gate.too_soon(pts):
            # Nothing can send it: motion is looked for on the next frame that could go, against the same
            # scene average, so a change in between is still seen then (two thirds of the frames at 15 fps
            # and detect_fps 5 are never looked at, busy or quiet).
            self.motion.skip()
            return None
        due = self.track_due(pts, hints)
        if not due and self.gate.looked_recently(pts):
            self.motion.skip()  # a quiet scene, looked at one interval ago: motion is looked for on a later frame
            return None
        return self.gate.decide(pts, motion=self.motion.changed(frame_bgr), track_due=due)

    def track_due(self, pts: float, hints: HintTable | None) -> bool:
        if hints is None or not hints.any_active():
            return False
        last = self.gate.last_detected_pts if self.gate is not None else None
        if last is None or pts - last >= TRACK_KEEPALIVE_S:
            return True
        return hints.any_due(pts)

    def restart(self) -> None:
        """A new stream (reopened, a looping file): the next frame is detected and the scene learned anew."""
        if self.gate is not None:
            self.gate.restart()
        if self.motion is not None:
            self.motion.reset()
