"""`Pipeline`: the one object the service and the replay hold, over the parts that run the stages.

The parts, each in its own module: supervision (pipeline/supervision/watchdog.py) starts and restarts the
stage processes; the hub (pipeline/supervision/hub.py) routes their messages; ring allocation
(pipeline/transport/ring_allocator.py) owns the shared memory; the live view (pipeline/view/live_view.py) keeps what
the API shows; the stats board (pipeline/runtime/stats.py) holds every process's counters. Callers use
the methods here and nothing behind them. A new stage is added in `_start_core` (or like a
camera), with its entry point in ENTRY and its options in pipeline/runtime/stage_context.py.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from facegate.settings import Settings
from pipeline import capture, detect, emit, match
from pipeline.runtime.run_mode import LIVE, Mode
from pipeline.runtime.stage_context import CaptureOptions, DetectOptions, EmitOptions, MatchOptions, StageContext
from pipeline.runtime.stage_kind import StageKind
from pipeline.runtime.stats import StageFigures, StatsBoard, by_kind
from pipeline.supervision import launcher
from pipeline.supervision.hub import Hub, RouteCounts
from pipeline.supervision.process_table import Stage, StageTable
from pipeline.supervision.progress import RunProgress
from pipeline.supervision.watchdog import Supervisor
from pipeline.transport.messages import CameraStatus, CameraUrls, FrameResult
from pipeline.transport.ring_allocator import RingAllocator
from pipeline.transport.shm import remove_leftovers
from pipeline.view.live_view import LiveView

log = logging.getLogger(__name__)

ENTRY: dict[StageKind, Callable[[StageContext], None]] = {
    StageKind.CAPTURE: capture.run,
    StageKind.DETECT: detect.run,
    StageKind.MATCH: match.run,
    StageKind.EMIT: emit.run,
}
BOARD_ROWS = 128  # stats rows: every stage process a run may ever start, cameras coming and going included


class Pipeline:
    """Runs the stages of one supervisor: `start()`, `add_camera()`, `remove_camera()`, `shutdown()`."""

    def __init__(
        self,
        data_dir: str,
        settings: Settings | Mapping[str, Any],
        *,
        mode: Mode = LIVE,
        trace: str | None = None,
        follow_config: bool = True,
        deliver_webhooks: bool = True,
        log_level: str | None = None,
    ) -> None:
        self.data_dir = str(data_dir)
        self.settings = Settings.of(settings)
        self.mode = mode
        self.trace = trace
        self.follow_config = follow_config
        self.deliver_webhooks = deliver_webhooks
        self.log_level = log_level
        self._board = StatsBoard(BOARD_ROWS)
        self._progress = RunProgress()
        self._live = LiveView()
        self._rings = RingAllocator(self.settings.workers)
        self.prefix = self._rings.prefix
        self._stream_urls: dict[str, str] = {}
        self._launched = False  # counted among the pipelines the stage forkserver serves
        self._table = StageTable()
        self._hub = Hub(self._table, self._rings, self._live, self._progress)
        self._supervisor = Supervisor(
            self._table,
            self._hub,
            self._board,
            launcher.stage_context(),
            self._context_for,
            ENTRY,
            self._capture_done,
            mode.restarts_captures,
        )

    # --- life cycle -----------------------------------------------------------------------------
    def start(self) -> None:
        """Clear a dead run's segments, start emit, match and the detect workers, and supervise them."""
        removed = remove_leftovers()
        if removed:
            log.warning(
                "removed %d shared-memory segments left by a killed run: %s", len(removed), ", ".join(removed[:5])
            )
        launcher.pipeline_started()
        self._launched = True
        self._supervisor.start()
        self._supervisor.call(self._start_core)

    def _start_core(self) -> None:
        self._supervisor.add("emit", StageKind.EMIT, EmitOptions(trace=self.trace, deliver=self.deliver_webhooks))
        self._supervisor.add(
            "match", StageKind.MATCH, MatchOptions(mode=self.mode, stream_urls=dict(self._stream_urls))
        )
        for index in range(1, self.settings.workers + 1):
            self._supervisor.add(f"detect-{index}", StageKind.DETECT, DetectOptions(index=index))

    def _context_for(self, stage: Stage) -> StageContext:
        if stage.inbox is None or stage.outbox is None:
            raise RuntimeError(f"{stage.name} has no queues: the supervisor makes them as it spawns the stage")
        return StageContext(
            name=stage.name,
            kind=stage.kind,
            inbox=stage.inbox,
            outbox=stage.outbox,
            board=self._board,
            row=stage.row,
            parent_pid=os.getpid(),
            data_dir=self.data_dir,
            settings=self.settings,
            follow_config=self.follow_config,
            options=stage.options,
            log_level=self.log_level,
        )

    def wait_ready(self, timeout: float = 60.0) -> bool:
        """True once every stage has loaded what it needs (dlib models take a second or two)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = [s.row for s in self._table.all() if s.kind != StageKind.CAPTURE]
            if rows and all(self._board.row(r).ready > 0 for r in rows):
                return True
            if self._progress.failed:
                return False
            time.sleep(0.05)
        return False

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop every stage (captures first, emit last so it writes what it holds), then unlink the rings."""
        self._supervisor.shutdown(timeout)
        self._rings.release_all()
        if self._launched:
            self._launched = False
            launcher.pipeline_stopped()

    # --- cameras --------------------------------------------------------------------------------
    def add_camera(self, camera_id: str, stream_url: str) -> None:
        self._supervisor.call(lambda: self._add_camera(camera_id, stream_url))

    def _add_camera(self, camera_id: str, stream_url: str) -> None:
        self._stream_urls[camera_id] = stream_url
        self._hub.send("match", CameraUrls(dict(self._stream_urls)))
        options = CaptureOptions(camera_id=camera_id, stream_url=stream_url, mode=self.mode)
        self._supervisor.add(capture.stage_name(camera_id), StageKind.CAPTURE, options)

    def remove_camera(self, camera_id: str) -> None:
        self._supervisor.call(lambda: self._remove_camera(camera_id))

    def _remove_camera(self, camera_id: str) -> None:
        stage = self._table.get(capture.stage_name(camera_id))
        if stage is not None:
            self._supervisor.retire(stage)
        self._stream_urls.pop(camera_id, None)
        self._hub.send("match", CameraUrls(dict(self._stream_urls)))
        self._live.forget(camera_id)
        self._rings.drop(camera_id)

    def cameras(self) -> dict[str, str]:
        """Camera id -> stream URL of every camera added and not removed."""
        return dict(self._stream_urls)

    def _capture_done(self, stage: Stage, code: int | None) -> None:
        """A replay's capture exited: the file ended (code 0), or it failed and the replay with it."""
        if code != 0:
            assert isinstance(stage.options, CaptureOptions)
            status = self._live.camera_status.get(stage.options.camera_id)
            self._progress.fail(status.error if status and status.error else f"capture exited with {code}")

    # --- what the API and the replay read ----------------------------------------------------------
    @property
    def camera_status(self) -> Mapping[str, CameraStatus]:
        return self._live.camera_status

    @property
    def latest_results(self) -> Mapping[str, FrameResult]:
        return self._live.latest_results

    def latest_view(self, camera_id: str) -> tuple[np.ndarray, FrameResult | None] | None:
        """A copy of the camera's newest frame and the newest faces found in it; None before any frame."""
        return self._live.frame_and_faces(camera_id, self._rings.get(camera_id))

    def wait_done(self, timeout: float) -> bool:
        """True once a replay's file went through (or failed); waits at most `timeout` seconds."""
        return self._progress.done.wait(timeout)

    def replay_outcome(self, camera_id: str) -> tuple[int, float | None, str | None]:
        """(frames through, time.monotonic() when emit had the last, why it failed or None)."""
        return (
            self._progress.frames_done.get(camera_id, 0),
            self._progress.finished_at.get(camera_id),
            self._progress.failed,
        )

    @property
    def events(self) -> int:
        return self._progress.events

    @property
    def peak_rss_mb(self) -> float:
        return self._supervisor.peak_rss_mb

    def frames_written(self) -> int:
        """Frames emit has taken in so far (a replay's progress)."""
        stage = self._table.get("emit")
        return int(self._board.row(stage.row).frames_in) if stage is not None else 0

    def stage_figures(self) -> list[StageFigures]:
        """One row per stage process: the shared counters plus what only the supervisor knows."""
        return [
            StageFigures.of(
                self._board.row(stage.row),
                name=stage.name,
                kind=stage.kind,
                restarts=stage.restarts,
                queue_hwm=stage.queue_hwm,
                alive=stage.alive,
                queue_depth=len(stage.inflight) if stage.kind == StageKind.DETECT else _qsize(stage.inbox),
            )
            for stage in self._table.all()
        ]

    def route_counts(self) -> RouteCounts:
        """What the hub has routed so far (messages by type, frames by kind); a copy."""
        counts = self._hub.counts
        return RouteCounts(Counter(counts.messages), counts.detected, counts.undetected)

    def figures_by_kind(self, elapsed: float | None = None) -> dict[str, dict[str, Any]]:
        """The stage rows added up per kind; frames waiting in the hub count as detect's queue."""
        out = by_kind(self.stage_figures(), elapsed)
        if StageKind.DETECT in out:
            out[StageKind.DETECT]["queue_hwm"] = max(out[StageKind.DETECT]["queue_hwm"], self._hub.pending_hwm)
            out[StageKind.DETECT]["queue_depth"] += len(self._hub.pending)
        return out


def _qsize(q: Any) -> int:
    try:
        return q.qsize() if q is not None else 0
    except (NotImplementedError, OSError, ValueError):
        return 0
