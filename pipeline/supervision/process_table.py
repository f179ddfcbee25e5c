"""The supervisor's record of its stage processes, shared by supervision and the hub under one lock."""

from __future__ import annotations

import os
import signal
import threading
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue

from pipeline.runtime.stage_context import StageOptions
from pipeline.runtime.stage_kind import StageKind
from pipeline.transport.messages import FrameRef, Message


@dataclass
class Stage:
    """One stage process slot: its current process and queues, and what supervision knows of it."""

    name: str
    kind: StageKind
    row: int  # its row of the stats board, kept across restarts
    options: StageOptions
    process: BaseProcess | None = None
    inbox: Queue[Message] | None = None
    outbox: Queue[Message] | None = None
    reader: threading.Thread | None = None
    generation: int = 0
    restarts: int = 0
    restart_at: float | None = None
    finished: bool = False  # exited on purpose (a replayed file ended): not restarted
    retired: bool = False  # being removed (camera deleted, pipeline stopping)
    started_at: float = 0.0
    stack_asked_at: float | None = None  # when a stalled process was asked for its stack (then killed)
    queue_hwm: int = 0
    inflight: dict[tuple[str, int], FrameRef] = field(default_factory=dict)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.is_alive()

    def terminate(self) -> None:
        """SIGTERM its process, if one is running."""
        if self.process is not None and self.process.is_alive():
            self.process.terminate()

    def ask_stack(self) -> None:
        """SIGUSR1 its process: a stage prints every thread's stack to stderr (facegate/procutil.py)."""
        if self.process is not None and self.process.pid is not None and self.process.is_alive():
            os.kill(self.process.pid, signal.SIGUSR1)

    def kill(self) -> None:
        """SIGKILL its process, if one is running."""
        if self.process is not None and self.process.is_alive():
            self.process.kill()


class StageTable:
    """The stages by name, shared by supervision and the hub under one lock."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._stages: dict[str, Stage] = {}
        self._rows = 0

    def get(self, name: str) -> Stage | None:
        with self.lock:
            return self._stages.get(name)

    def all(self) -> list[Stage]:
        with self.lock:
            return list(self._stages.values())

    def of_kind(self, kind: StageKind) -> list[Stage]:
        """The stages of a kind that are not being removed."""
        with self.lock:
            return [s for s in self._stages.values() if s.kind == kind and not s.retired]

    def claim(self, name: str, kind: StageKind, options: StageOptions) -> Stage:
        """The stage of that name with new options; a new one (reusing a retired one's stats row) if needed."""
        with self.lock:
            stage = self._stages.get(name)
            if stage is None or stage.retired:
                row = stage.row if stage is not None else self._next_row()
                stage = Stage(name, StageKind(kind), row, options)
                self._stages[name] = stage
            stage.options = options
            return stage

    def _next_row(self) -> int:
        self._rows += 1
        return self._rows - 1

    def remove(self, stage: Stage) -> None:
        with self.lock:
            if self._stages.get(stage.name) is stage:
                del self._stages[stage.name]
