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

Live, frames are read in groups of one detect interval (`group_size`; 3 at 15 fps and detect_fps 5):
capture sleeps until the last frame of a group is due and decodes the group back to back. Waking once
per group instead of once per frame is what decoding costs least with: a frame decoded after a sleep
costs about twice the CPU of one decoded right after another (`python -m bench.decode_paced`). Only the
newest frame of a group can go to detection, as only it comes one interval after the last one; the
older ones are given the times they were due (capture), so they are carried as before. A newest frame
held back by the interval (the wake-up came a little early) is followed by frames read one at a time
until one is looked at, so a late wake-up costs a frame, not a group: detections come as often as before.
A scene that stayed quiet (`QUIET_AFTER_S` of looks that found no motion, no track) goes further: the
older frames of a group are `passed_over`: decoded, as the stream's next frames need them, but not
converted to pixels, published or sent to match, which is what a frame of an empty, still scene would
have gone there for (an empty result). Nothing is seen later than before: a change is looked for at the
same stream times, and the first frame that moves ends the passing over.
"""

from __future__ import annotations

import numpy as np

from facegate.settings import Settings
from pipeline.gating.motion import MotionConfig, MotionDetector
from pipeline.gating.rate_gate import DetectGate, DetectRateConfig
from pipeline.transport.messages import Reason
from pipeline.transport.track_hints import HintTable

TRACK_KEEPALIVE_S = 0.5  # half of match's track lifetime (pipeline/tracker.TRACK_TTL_S)
QUIET_AFTER_S = 1.0  # stream seconds of looks finding nothing (and no track) before frames are read in groups
MAX_GROUP = 5  # frames read at once in a quiet scene, at most (a third of a second at 15 fps)


class FrameGate:
    """One per camera, in its capture process; `configure` again after a config change."""

    def __init__(self, camera_id: str, settings: Settings) -> None:
        self.camera_id = camera_id
        self.detect_fps = -1.0
        self.motion_config: MotionConfig | None = None
        self.gate: DetectGate | None = None
        self.motion: MotionDetector | None = None
        self._quiet_since: float | None = None  # pts of the first of the looks that found nothing since
        self._passing_over = False  # the older frames of the group being read are passed over
        self._singly = True  # frames are read one at a time until one is looked at (see `group_size`)
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

    def group_size(self, fps: float) -> int:
        """How many frames capture reads at once from now on: the frames of one detect interval at `fps` (at most
        MAX_GROUP), or 1 until a frame is looked at: a stream's first frame, and after a newest frame the interval
        held back (see the module's docstring)."""
        last_look = self.gate.last_looked_pts if self.gate is not None else None
        quiet = (
            self._quiet_since is not None and last_look is not None and last_look - self._quiet_since >= QUIET_AFTER_S
        )
        interval_frames = min(MAX_GROUP, max(1, round(fps / self.detect_fps))) if self.detect_fps > 0 else 1
        size = 1 if self._singly else interval_frames
        self._passing_over = quiet and size > 1
        return size

    @property
    def passing_over(self) -> bool:
        """Whether the older frames of the group being read are passed over (a quiet scene, `group_size`)."""
        return self._passing_over

    def passed_over(self, newer: int) -> bool:
        """Whether the frame about to be read, with `newer` frames of its group still to come after it, is passed
        over: in a quiet group, every frame but the newest (see the module's docstring)."""
        if not (self._passing_over and newer > 0):
            return False
        if self.motion is not None:
            self.motion.skip()  # the newest is looked at against the same scene average, weighed as for all
        return True

    def decide(self, frame_bgr: np.ndarray, pts: float, hints: HintTable | None) -> Reason | None:
        """The reason the frame at `pts` goes to detection, or None: its faces are carried by match."""
        if self.gate is None:
            return Reason.EVERY
        assert self.motion is not None
        self._singly = True
        if self.gate.too_soon(pts):
            # Nothing can send it: motion is looked for on the next frame that could go, against the same
            # scene average, so a change in between is still seen then (two thirds of the frames at 15 fps
            # and detect_fps 5 are never looked at, busy or quiet).
            self.motion.skip()
            return None
        tracked = hints is not None and hints.any_active()
        due = hints is not None and tracked and self.track_due(pts, hints)
        if not due and not self._passing_over and self.gate.looked_recently(pts):
            self.motion.skip()  # a quiet scene, looked at one interval ago: motion is looked for on a later frame
            return None
        self._singly = False
        moved = self.motion.changed(frame_bgr)
        reason = self.gate.decide(pts, motion=moved, track_due=due)
        if moved or reason is not None or tracked:
            self._quiet_since = None
        elif self._quiet_since is None:
            self._quiet_since = pts
        return reason

    def track_due(self, pts: float, hints: HintTable) -> bool:
        """With tracks on this camera: whether one is due for a detection (keep-alive or re-check)."""
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
        self._quiet_since, self._passing_over, self._singly = None, False, True
