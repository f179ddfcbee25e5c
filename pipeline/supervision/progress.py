"""How far a run got: events decided, and for a replay, when its file was through or why it failed."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class RunProgress:
    events: int = 0
    frames_done: dict[str, int] = field(default_factory=dict)  # camera id -> frames, once emit wrote the last
    finished_at: dict[str, float] = field(default_factory=dict)  # time.monotonic() of that moment
    failed: str | None = None  # why a replay could not go on
    done: threading.Event = field(default_factory=threading.Event)

    def replay_done(self, camera_id: str, frames: int, finished_at: float) -> None:
        self.frames_done[camera_id] = frames
        self.finished_at[camera_id] = finished_at
        self.done.set()

    def fail(self, why: str) -> None:
        if not self.done.is_set():
            self.failed = why
            self.done.set()
