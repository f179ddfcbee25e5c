"""Process supervision: start the stage processes, watch them, restart the ones that die or hang.

All process starts and stops happen on one supervision thread (`call()` runs work there), so a
child's parent-death signal is tied to a thread that lives as long as the run. A stage that
exits is restarted with backoff and the restart is counted; a stage whose heartbeat is older
than STALL_S is killed first. A dead detect worker's frames are given back to the hub for the
other workers. In a replay, a capture that exits is done, not restarted (pipeline/runtime/run_mode.py).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Mapping
from multiprocessing.context import ForkServerContext
from typing import Any

from facegate.procutil import rss_mb
from pipeline.runtime.stage_context import StageContext, StageOptions
from pipeline.runtime.stage_kind import STOP_ORDER, StageKind
from pipeline.runtime.stats import StatsBoard
from pipeline.supervision.hub import Hub
from pipeline.supervision.process_table import Stage, StageTable
from pipeline.transport.messages import Stop

log = logging.getLogger(__name__)

RESTART_BACKOFF_S = (0.5, 1.0, 2.0, 4.0)  # never more than 5 s before a dead stage is back


def _stall_s(environ: Mapping[str, str] = os.environ, default: float = 30.0) -> float:
    """FACEGATE_STAGE_STALL_S (seconds, at least 2; the tests shorten it), else `default`."""
    try:
        return max(2.0, float(environ.get("FACEGATE_STAGE_STALL_S", default)))
    except ValueError:
        log.warning("ignoring FACEGATE_STAGE_STALL_S=%r: not a number", environ.get("FACEGATE_STAGE_STALL_S"))
        return default


STALL_S = _stall_s()  # a stage with no heartbeat for this long is killed and restarted
TICK_S = 0.2
STACK_WAIT_S = 0.5  # between asking a stalled stage for its stack and killing it

Answer = queue.Queue[tuple[bool, Any]]  # a call's (True, its value) or (False, the exception it raised)


class Supervisor:
    """Starts stages with `context_for(stage)` and `entry[kind]`, and keeps them running."""

    def __init__(
        self,
        table: StageTable,
        hub: Hub,
        board: StatsBoard,
        mp: ForkServerContext,
        context_for: Callable[[Stage], StageContext],
        entry: Mapping[StageKind, Callable[[StageContext], None]],
        on_capture_done: Callable[[Stage, int | None], None],
        restarts_captures: bool,
    ) -> None:
        self.table, self.hub, self.board, self.mp = table, hub, board, mp
        self.context_for = context_for
        self.entry = entry
        self.on_capture_done = on_capture_done
        self.restarts_captures = restarts_captures
        self.peak_rss_mb = 0.0
        self.stopping = False
        self._commands: queue.Queue[tuple[Callable[[], Any], Answer]] = queue.Queue()
        self._thread: threading.Thread | None = None

    # --- the supervision thread ------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="supervision", daemon=True)
        self._thread.start()

    def call(self, fn: Callable[[], Any], timeout: float = 30.0) -> Any:
        """Run `fn` on the supervision thread (the only one that starts or stops processes)."""
        if threading.current_thread() is self._thread or self._thread is None:
            return fn()
        answer: Answer = queue.Queue(maxsize=1)
        self._commands.put((fn, answer))
        ok, value = answer.get(timeout=timeout)
        if not ok:
            raise value
        return value

    def _loop(self) -> None:
        while True:
            try:
                fn, answer = self._commands.get(timeout=TICK_S)
            except queue.Empty:
                pass
            else:
                try:
                    answer.put((True, fn()))
                except Exception as exc:  # handed back to the caller
                    answer.put((False, exc))
            if self.stopping:
                if self._commands.empty():
                    return
                continue
            try:
                self.watch()
            except Exception:
                log.exception("supervision tick failed")

    def shutdown(self, timeout: float) -> None:
        """Stop every stage in STOP_ORDER, from the supervision thread if it still answers."""
        if self._thread is not None and self._thread.is_alive():
            try:
                self.call(lambda: self._stop_all(timeout), timeout=timeout * 6)
            except queue.Empty:
                log.error("supervision thread did not answer; stopping from here")
                self._stop_all(timeout)
            self._commands.put((lambda: None, queue.Queue(maxsize=1)))
            self.stopping = True
            self._thread.join(timeout=2.0)
        else:
            self._stop_all(timeout)

    # --- processes -------------------------------------------------------------------------------
    def add(self, name: str, kind: StageKind, options: StageOptions) -> Stage:
        stage = self.table.claim(name, kind, options)
        self.spawn(stage)
        return stage

    def spawn(self, stage: Stage) -> None:
        stage.inbox, stage.outbox = self.mp.Queue(), self.mp.Queue()
        stage.generation += 1
        stage.finished = False
        stage.restart_at = None
        self.board.clear(stage.row)
        process = self.mp.Process(
            target=self.entry[stage.kind], args=(self.context_for(stage),), name=stage.name, daemon=True
        )
        stage.process = process
        process.start()
        stage.started_at = time.monotonic()
        stage.stack_asked_at = None
        self.hub.attach(stage)
        log.debug("started %s (pid %d)", stage.name, process.pid)

    def retire(self, stage: Stage) -> None:
        stage.retired = True
        stage.terminate()
        self.reap(stage, 5.0)
        self.table.remove(stage)

    def reap(self, stage: Stage, timeout: float) -> None:
        process = stage.process
        if process is None:
            return
        process.join(timeout)
        if process.is_alive():
            log.warning("%s did not stop in %.0f s; killing it", stage.name, timeout)
            process.kill()
            process.join(2.0)
        stage.generation += 1
        if stage.reader is not None:
            stage.reader.join(2.0)
        _close_queues(stage)

    def _stop_all(self, timeout: float) -> None:
        self.stopping = True
        stages = self.table.all()
        for kind in STOP_ORDER:
            group = [s for s in stages if s.kind == kind]
            for stage in group:
                stage.retired = True
                if kind == StageKind.EMIT and stage.alive and stage.inbox is not None:
                    stage.inbox.put(Stop())  # after everything already routed to it
                else:
                    stage.terminate()
            for stage in group:
                self.reap(stage, timeout)

    # --- watching ----------------------------------------------------------------------------------
    def watch(self) -> None:
        """Restart stages that died or hung, with backoff; count every restart."""
        now = time.monotonic()
        rss = 0.0
        for stage in self.table.all():
            if stage.retired or stage.finished:
                continue
            if stage.restart_at is not None:
                if now >= stage.restart_at:
                    log.info("restarting %s (restart #%d)", stage.name, stage.restarts)
                    self.spawn(stage)
                continue
            row = self.board.row(stage.row)
            rss += row.rss_mb
            if stage.alive:
                beat_age = time.time() - row.last_beat if row.last_beat else 0.0
                if now - stage.started_at > STALL_S and beat_age > STALL_S:
                    self._stalled(stage, beat_age, now)
                continue
            self._on_exit(stage, now)
        self.peak_rss_mb = max(self.peak_rss_mb, rss + rss_mb())

    def _stalled(self, stage: Stage, beat_age: float, now: float) -> None:
        """A stage with no heartbeat: first ask for its stack (the log then says where it hung), a tick
        later kill it; `watch` restarts it as any stage that died."""
        if stage.stack_asked_at is None:
            log.error("%s made no progress for %.0f s; its stack follows, then it is killed", stage.name, beat_age)
            stage.stack_asked_at = now
            stage.ask_stack()
        elif now - stage.stack_asked_at >= STACK_WAIT_S:
            log.error("%s made no progress for %.0f s; killing it", stage.name, beat_age)
            stage.kill()

    def _on_exit(self, stage: Stage, now: float) -> None:
        code = stage.process.exitcode if stage.process is not None else None
        stage.generation += 1
        if stage.reader is not None:
            stage.reader.join(3.0)  # routes what the dead stage had already sent
        if stage.kind == StageKind.CAPTURE and not self.restarts_captures:
            stage.finished = True
            self.on_capture_done(stage, code)
            return
        backoff = RESTART_BACKOFF_S[min(stage.restarts, len(RESTART_BACKOFF_S) - 1)]
        stage.restarts += 1
        stage.restart_at = now + backoff
        _close_queues(stage)
        given = self.hub.give_back(stage)
        log.error(
            "%s exited (code %s); restarting in %.1f s, %d frame(s) handed to other workers",
            stage.name,
            code,
            backoff,
            given,
        )


def _close_queues(stage: Stage) -> None:
    for q in (stage.inbox, stage.outbox):
        if q is not None:
            q.cancel_join_thread()
            q.close()
