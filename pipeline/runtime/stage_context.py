"""What a stage process is handed at spawn (its context and typed options), and the small loops every stage shares.

A new stage option is declared in the options class of its stage, here, and filled in where
the supervisor adds the stage (pipeline/supervision/runner.py).
"""

from __future__ import annotations

import logging
import queue
import time
from dataclasses import dataclass, field
from multiprocessing.queues import Queue

from sqlalchemy.exc import DBAPIError

from facegate.camera import Camera
from facegate.camera_settings import camera_of, stored_settings
from facegate.procutil import StopFlag, become_stage
from facegate.settings import Settings
from facegate.store import Store
from pipeline.runtime.run_mode import LIVE, Mode
from pipeline.runtime.stage_kind import StageKind
from pipeline.runtime.stats import StageMeter, StatsBoard
from pipeline.transport.messages import Message

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CaptureOptions:
    camera_id: str
    stream_url: str
    mode: Mode = LIVE


@dataclass(frozen=True)
class DetectOptions:
    index: int  # detect-<index>, carried in each FaceBatch


@dataclass(frozen=True)
class MatchOptions:
    mode: Mode = LIVE
    stream_urls: dict[str, str] = field(default_factory=dict)  # camera id -> URL, which events carry


@dataclass(frozen=True)
class EmitOptions:
    trace: str | None = None  # a file for one JSON line per frame
    deliver: bool = True  # send webhooks (the outbox is written either way)


StageOptions = CaptureOptions | DetectOptions | MatchOptions | EmitOptions


@dataclass
class StageContext:
    """Picklable at spawn: queues and the stats board travel to the child with it."""

    name: str  # e.g. "detect-1"; the process title is "facegate: <name>"
    kind: StageKind
    inbox: Queue[Message]
    outbox: Queue[Message]
    board: StatsBoard
    row: int
    parent_pid: int
    data_dir: str
    settings: Settings
    follow_config: bool  # serve mode: pick up PUT /api/config changes from the store
    options: StageOptions
    log_level: str | None = None

    def begin(self) -> tuple[StopFlag, StageMeter]:
        stop = become_stage(self.name, self.parent_pid, self.log_level)
        import os

        return stop, StageMeter(self.board, self.row, os.getpid())


def receive(inbox: Queue[Message], stop: StopFlag, meter: StageMeter, timeout: float = 0.25) -> Message | None:
    """The next message, or None after `timeout` (the stage then checks its stop flag and beats)."""
    try:
        return inbox.get(timeout=timeout)
    except queue.Empty:
        meter.beat()
        return None
    except (EOFError, OSError):
        stop.set()
        return None


class ConfigFollower:
    """Re-reads the runtime config from the store when its version moves (at most once a second), with every
    camera's own fields (`camera`: the default camera's too, which the settings' `cameras` leave out)."""

    def __init__(self, ctx: StageContext) -> None:
        self.settings = ctx.settings
        self._store = Store(ctx.data_dir) if ctx.follow_config else None
        self._version = self._store.config.version() if self._store else 0
        if self._store is not None:  # a stage (re)started after a change starts from the stored config
            self.settings = self.settings.updated(stored_settings(self._store))
        self._cameras = self._read_cameras()
        self._checked = time.monotonic()

    def camera(self, camera_id: str) -> Camera | None:
        """The camera of that id as last read (its own min_face_px, its ignored regions), if any."""
        return self._cameras.get(camera_id)

    def _read_cameras(self) -> dict[str, Camera]:
        if self._store is None:
            return {c.id: c for c in self.settings.cameras}
        return {row.id: camera_of(row) for row in self._store.cameras.all()}

    def poll(self) -> bool:
        """True when the settings changed since the last call."""
        if self._store is None or time.monotonic() - self._checked < 1.0:
            return False
        self._checked = time.monotonic()
        try:
            return self._reload()
        except DBAPIError as exc:
            log.warning(
                "runtime config not checked, the database is unreachable (%s)",
                " ".join(str(exc.orig or exc).split())[:200],
            )
            return False

    def _reload(self) -> bool:
        assert self._store is not None
        version = self._store.config.version()
        if version == self._version:
            return False
        self._version = version
        self.settings = self.settings.updated(stored_settings(self._store))
        self._cameras = self._read_cameras()
        log.info("runtime config changed (version %d)", version)
        return True
