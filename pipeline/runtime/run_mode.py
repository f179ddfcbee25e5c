"""Live streams or a replay of a file: the one place that says how the two runs differ.

A live run keeps up with cameras: it drops what it cannot place, plays files at their own rate
and loops them, reopens failing streams, and restarts any stage that exits. A replay processes
every frame of one file as fast as the pipeline goes, decides in the file's own time, and ends
when the file does. Stages ask the mode; none of them tests a `replay` flag of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

REORDER_WAIT_S = 1.0  # live: how long a missing frame may hold up the frames after it
REPLAY_REORDER_WAIT_S = 30.0  # a replay loses no frame: wait out a detect worker's restart


@dataclass(frozen=True, slots=True)
class Mode:
    replay: bool = False
    pace: bool = False  # a replay played at the file's own frame rate, like a camera (live always is)

    @property
    def paced(self) -> bool:
        """Capture sleeps to the stream's frame rate."""
        return self.pace or not self.replay

    @property
    def waits_for_slots(self) -> bool:
        """With every slot busy, capture waits (replay) instead of dropping the frame (live)."""
        return self.replay

    @property
    def sheds_detections(self) -> bool:
        """With detection backed up, a frame the gate chose for it goes on undetected, its tracks' boxes carried
        (live: every frame still reaches match, at a lower detection rate), or waits its turn (replay)."""
        return not self.replay

    @property
    def reorder_wait_s(self) -> float:
        """How long match holds later frames back for a missing one before skipping it."""
        return REPLAY_REORDER_WAIT_S if self.replay else REORDER_WAIT_S

    @property
    def ends_with_file(self) -> bool:
        """A file that runs out ends the run (replay) or starts over (live); a failing source is
        then final too (replay) instead of retried with backoff (live)."""
        return self.replay

    @property
    def holds_undetected_frames(self) -> bool:
        """Frames kept off detection travel together (live), or each on its own (replay;
        pipeline/gating/held_frames.py)."""
        return not self.replay

    @property
    def reads_in_groups(self) -> bool:
        """Frames are read a detect interval at a time, and in a quiet scene only each group's newest goes on
        (live; pipeline/gating/frame_gate.py), or one at a time, every one going on (a replay processes them
        all, and a paced one keeps each frame's own time)."""
        return not self.replay

    @property
    def restarts_captures(self) -> bool:
        """A capture process that exits is restarted (live) or done (replay)."""
        return not self.replay

    @property
    def cooldown_is_wall_time(self) -> bool:
        """Live media time is the wall clock, so a camera taken over from another node (or a restarted
        match) carries on the cooldown of the events already written for it; a replay has its own time."""
        return not self.replay

    def pts(self, *, is_file: bool, frame_index: int, fps: float, captured_at: float) -> float:
        """A frame's media time. A replayed file decides in its own time; live, a looping file or a
        restarted capture must not send time backwards (match's cooldown and track ages would stall on it)."""
        return frame_index / fps if is_file and self.replay else captured_at


LIVE = Mode()
