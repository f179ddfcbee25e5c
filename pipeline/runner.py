"""The supervisor's side of the pipeline: stage processes, their queues, the rings, and the hub.

Every queue has exactly one producer and one consumer, and the supervisor is one end of each:
a `multiprocessing.Queue` shared by several processes is guarded by a lock that a process
killed while holding it never gives back, which would hang every other stage. Here a dead
stage's queues are simply replaced with the process, and the frames it held are given to
another detect worker. Messages are a few hundred bytes (pixels stay in shared memory), so
the extra hop through the hub costs well under a millisecond.

All process starts and stops happen on one supervision thread, so a child's parent-death
signal is tied to a thread that lives as long as the run.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
import queue
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pipeline import capture, detect, emit, match
from pipeline.messages import (
    CameraStatus,
    CameraUrls,
    EndOfStream,
    Event,
    FaceBatch,
    FrameRef,
    FrameResult,
    ReplayDone,
    RingReady,
    RingRequest,
    Stop,
    UnknownFace,
)
from pipeline.ring import FrameRing
from pipeline.shm import remove_leftovers, run_prefix
from pipeline.stage import StageContext
from pipeline.stats import StatsBoard

log = logging.getLogger(__name__)

ENTRY: dict[str, Callable[[StageContext], None]] = {
    "capture": capture.run, "detect": detect.run, "match": match.run, "emit": emit.run,
}
MAX_INFLIGHT = 2  # frames queued at one detect worker; the rest wait in the hub, oldest first
RESTART_BACKOFF_S = (0.5, 1.0, 2.0, 4.0)  # never more than 5 s before a dead stage is back
STALL_S = 30.0  # a stage with no heartbeat for this long is killed and restarted
TICK_S = 0.2


@dataclass
class Stage:
    name: str
    kind: str
    row: int
    options: dict[str, Any] = field(default_factory=dict)
    process: Any = None
    inbox: Any = None
    outbox: Any = None
    reader: threading.Thread | None = None
    generation: int = 0
    restarts: int = 0
    restart_at: float | None = None
    finished: bool = False  # exited on purpose (a replayed file ended): not restarted
    retired: bool = False  # being removed (camera deleted, pipeline stopping)
    started_at: float = 0.0
    queue_hwm: int = 0
    inflight: dict[tuple[str, int], FrameRef] = field(default_factory=dict)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.is_alive()


class Pipeline:
    """Runs the stages of one supervisor: `start()`, `add_camera()`, `remove_camera()`, `shutdown()`."""

    def __init__(self, data_dir: str, settings: dict[str, Any], *, replay: bool = False, pace: bool = False,
                 trace: str | None = None, follow_config: bool = True, deliver_webhooks: bool = True,
                 log_level: str | None = None) -> None:
        self.mp = multiprocessing.get_context("spawn")
        self.data_dir = str(data_dir)
        self.settings = dict(settings)
        self.replay, self.pace, self.trace = replay, pace, trace
        self.follow_config = follow_config
        self.deliver_webhooks = deliver_webhooks
        self.log_level = log_level
        self.board = StatsBoard(128)
        self.prefix = run_prefix()
        self._rows = itertools.count()
        self._ring_ids = itertools.count(1)
        self.stages: dict[str, Stage] = {}
        self.lock = threading.RLock()
        self.pending: deque[FrameRef] = deque()
        self.pending_hwm = 0
        self.rings: dict[str, FrameRing] = {}
        self.retired_rings: list[FrameRing] = []
        self.camera_status: dict[str, CameraStatus] = {}
        self.latest_results: dict[str, FrameResult] = {}
        self._last_frames: dict[str, tuple[Any, int]] = {}
        self.stream_urls: dict[str, str] = {}
        self.replay_done: dict[str, int] = {}
        self.replay_finished: dict[str, float] = {}
        self.replay_failed: str | None = None
        self.done = threading.Event()
        self.events = 0
        self.peak_rss_mb = 0.0
        self.stopping = False
        self._commands: queue.Queue[tuple[Callable[[], Any], queue.Queue]] = queue.Queue()
        self._thread: threading.Thread | None = None

    # --- life cycle -----------------------------------------------------------------------------
    def start(self) -> None:
        """Clear a dead run's segments, start emit, match and the detect workers, and supervise them."""
        removed = remove_leftovers()
        if removed:
            log.warning("removed %d shared-memory segments left by a killed run: %s", len(removed),
                        ", ".join(removed[:5]))
        self._thread = threading.Thread(target=self._supervise, name="supervision", daemon=True)
        self._thread.start()
        self.call(self._start_core)

    def _start_core(self) -> None:
        self._add("emit", "emit", {"trace": self.trace, "deliver": self.deliver_webhooks})
        self._add("match", "match", {"replay": self.replay, "stream_urls": dict(self.stream_urls)})
        for index in range(1, int(self.settings["workers"]) + 1):
            self._add(f"detect-{index}", "detect", {"index": index})

    def wait_ready(self, timeout: float = 60.0) -> bool:
        """True once every stage has loaded what it needs (dlib models take a second or two)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                rows = [s.row for s in self.stages.values() if s.kind != "capture"]
            if rows and all(self.board.row(r)["ready"] > 0 for r in rows):
                return True
            if self.replay_failed:
                return False
            time.sleep(0.05)
        return False

    def add_camera(self, camera_id: str, stream_url: str) -> None:
        self.call(lambda: self._add_camera(camera_id, stream_url))

    def _add_camera(self, camera_id: str, stream_url: str) -> None:
        self.stream_urls[camera_id] = stream_url
        self._send("match", CameraUrls(dict(self.stream_urls)))
        options = {"camera_id": camera_id, "stream_url": stream_url, "replay": self.replay,
                   "pace": self.pace or not self.replay}
        self._add(capture.describe(options), "capture", options)

    def remove_camera(self, camera_id: str) -> None:
        self.call(lambda: self._remove_camera(camera_id))

    def _remove_camera(self, camera_id: str) -> None:
        stage = self.stages.get(f"capture {camera_id}")
        if stage is not None:
            self._retire(stage)
        self.stream_urls.pop(camera_id, None)
        self.camera_status.pop(camera_id, None)
        self._last_frames.pop(camera_id, None)
        self.latest_results.pop(camera_id, None)
        with self.lock:
            ring = self.rings.pop(camera_id, None)
        if ring is not None:
            ring.unlink()
            self.retired_rings.append(ring)

    def cameras(self) -> list[str]:
        with self.lock:
            return [s.options["camera_id"] for s in self.stages.values() if s.kind == "capture" and not s.retired]

    def call(self, fn: Callable[[], Any], timeout: float = 30.0) -> Any:
        """Run `fn` on the supervision thread (the only one that starts or stops processes)."""
        if threading.current_thread() is self._thread or self._thread is None:
            return fn()
        answer: queue.Queue = queue.Queue(maxsize=1)
        self._commands.put((fn, answer))
        ok, value = answer.get(timeout=timeout)
        if not ok:
            raise value
        return value

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop every stage (captures first, emit last so it writes what it holds), then unlink the rings."""
        if self._thread is not None and self._thread.is_alive():
            try:
                self.call(lambda: self._shutdown(timeout), timeout=timeout * 6)
            except queue.Empty:
                log.error("supervision thread did not answer; stopping from here")
                self._shutdown(timeout)
            self._commands.put((lambda: None, queue.Queue(maxsize=1)))
            self.stopping = True
            self._thread.join(timeout=2.0)
        else:
            self._shutdown(timeout)

    def _shutdown(self, timeout: float) -> None:
        self.stopping = True
        with self.lock:
            stages = list(self.stages.values())
        for kind in ("capture", "detect", "match", "emit"):
            group = [s for s in stages if s.kind == kind]
            for stage in group:
                stage.retired = True
                if kind == "emit" and stage.alive:
                    stage.inbox.put(Stop())  # after everything already routed to it
                elif stage.alive:
                    stage.process.terminate()
            for stage in group:
                self._reap(stage, timeout)
        with self.lock:
            rings = list(self.rings.values()) + self.retired_rings
            self.rings.clear()
            self.retired_rings = []
        for ring in rings:
            ring.unlink()
            ring.close()
        remove_leftovers_of_this_run(self.prefix)

    def _reap(self, stage: Stage, timeout: float) -> None:
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
        for q in (stage.inbox, stage.outbox):
            if q is not None:
                q.cancel_join_thread()
                q.close()

    # --- processes ----------------------------------------------------------------------------
    def _add(self, name: str, kind: str, options: dict[str, Any]) -> Stage:
        with self.lock:
            stage = self.stages.get(name)
            if stage is None or stage.retired:
                old_row = stage.row if stage is not None else None
                stage = Stage(name, kind, old_row if old_row is not None else next(self._rows), options)
                self.stages[name] = stage
            stage.options = options
        self._spawn(stage)
        return stage

    def _spawn(self, stage: Stage) -> None:
        stage.inbox, stage.outbox = self.mp.Queue(), self.mp.Queue()
        stage.generation += 1
        stage.finished = False
        stage.restart_at = None
        self.board.clear(stage.row)
        ctx = StageContext(
            name=stage.name, kind=stage.kind, inbox=stage.inbox, outbox=stage.outbox, board=self.board,
            row=stage.row, parent_pid=os.getpid(), data_dir=self.data_dir, settings=dict(self.settings),
            follow_config=self.follow_config, options=stage.options, log_level=self.log_level,
        )
        stage.process = self.mp.Process(target=ENTRY[stage.kind], args=(ctx,), name=stage.name, daemon=True)
        stage.process.start()
        stage.started_at = time.monotonic()
        stage.reader = threading.Thread(target=self._read, args=(stage, stage.generation, stage.outbox, stage.process),
                                        name=f"hub {stage.name}", daemon=True)
        stage.reader.start()
        log.debug("started %s (pid %d)", stage.name, stage.process.pid)

    def _retire(self, stage: Stage) -> None:
        stage.retired = True
        if stage.alive:
            stage.process.terminate()
        self._reap(stage, 5.0)
        with self.lock:
            self.stages.pop(stage.name, None)

    def _supervise(self) -> None:
        while True:
            try:
                fn, answer = self._commands.get(timeout=TICK_S)
            except queue.Empty:
                fn = answer = None
            if fn is not None:
                try:
                    answer.put((True, fn()))
                except Exception as exc:  # handed back to the caller
                    answer.put((False, exc))
            if self.stopping:
                if self._commands.empty():
                    return
                continue
            try:
                self._watch()
            except Exception:
                log.exception("supervision tick failed")

    def _watch(self) -> None:
        """Restart stages that died or hung, with backoff; count every restart."""
        now = time.monotonic()
        with self.lock:
            stages = list(self.stages.values())
        rss = 0.0
        for stage in stages:
            if stage.retired or stage.finished:
                continue
            if stage.restart_at is not None:
                if now >= stage.restart_at:
                    log.info("restarting %s (restart #%d)", stage.name, stage.restarts)
                    self._spawn(stage)
                continue
            row = self.board.row(stage.row)
            rss += row["rss_mb"]
            if stage.alive:
                beat_age = time.time() - row["last_beat"] if row["last_beat"] else 0.0
                if now - stage.started_at > STALL_S and beat_age > STALL_S:
                    log.error("%s made no progress for %.0f s; killing it", stage.name, beat_age)
                    stage.process.kill()
                continue
            self._on_exit(stage, now)
        self.peak_rss_mb = max(self.peak_rss_mb, rss + _own_rss_mb())

    def _on_exit(self, stage: Stage, now: float) -> None:
        code = stage.process.exitcode
        stage.generation += 1
        if stage.reader is not None:
            stage.reader.join(3.0)  # routes what the dead stage had already sent
        if stage.kind == "capture" and self.replay:
            stage.finished = True
            if code != 0 and not self.done.is_set():
                status = self.camera_status.get(stage.options["camera_id"])
                self.replay_failed = status.error if status and status.error else f"capture exited with {code}"
                self.done.set()
            return
        with self.lock:
            orphans = sorted(stage.inflight.values(), key=lambda ref: ref.seq)
            stage.inflight.clear()
            self.pending.extendleft(reversed(orphans))
        backoff = RESTART_BACKOFF_S[min(stage.restarts, len(RESTART_BACKOFF_S) - 1)]
        stage.restarts += 1
        stage.restart_at = now + backoff
        log.error("%s exited (code %s); restarting in %.1f s, %d frame(s) handed to other workers", stage.name,
                  code, backoff, len(orphans))
        for q in (stage.inbox, stage.outbox):
            q.cancel_join_thread()
            q.close()
        self._feed_workers()

    # --- the hub --------------------------------------------------------------------------------
    def _read(self, stage: Stage, generation: int, outbox: Any, process: Any) -> None:
        """Route everything one stage process sends, until it is replaced and its queue is drained."""
        while True:
            try:
                msg = outbox.get(timeout=0.2)
            except queue.Empty:
                if stage.generation != generation or not process.is_alive():
                    return
                continue
            except (EOFError, OSError, ValueError):
                return
            try:
                self._route(stage, msg)
            except Exception:
                log.exception("routing %s from %s failed", type(msg).__name__, stage.name)

    def _route(self, stage: Stage, msg: Any) -> None:
        if isinstance(msg, FrameRef):
            with self.lock:
                self.pending.append(msg)
                self.pending_hwm = max(self.pending_hwm, len(self.pending))
            self._feed_workers()
        elif isinstance(msg, FaceBatch):
            with self.lock:
                stage.inflight.pop((msg.ref.camera_id, msg.ref.seq), None)
            self._send("match", msg)
            self._feed_workers()
        elif isinstance(msg, UnknownFace):
            self._send("emit", msg)
        elif isinstance(msg, FrameResult | Event):
            if isinstance(msg, Event):
                self.events += 1
            else:
                self.latest_results[msg.camera_id] = msg
            self._send("emit", msg)
        elif isinstance(msg, EndOfStream):
            self._send("match" if stage.kind == "capture" else "emit", msg)
        elif isinstance(msg, ReplayDone):
            self.replay_done[msg.camera_id] = msg.frames
            self.replay_finished[msg.camera_id] = msg.finished_at
            self.done.set()
        elif isinstance(msg, RingRequest):
            self._make_ring(stage, msg)
        elif isinstance(msg, CameraStatus):
            self.camera_status[msg.camera_id] = msg

    def _send(self, name: str, msg: Any) -> None:
        with self.lock:
            stage = self.stages.get(name)
            if stage is None or stage.inbox is None or stage.restart_at is not None:
                return
            stage.inbox.put(msg)
            try:
                stage.queue_hwm = max(stage.queue_hwm, stage.inbox.qsize())
            except NotImplementedError:
                pass

    def _feed_workers(self) -> None:
        """Hand waiting frames, oldest first, to the least busy live detect worker."""
        with self.lock:
            workers = [s for s in self.stages.values()
                       if s.kind == "detect" and s.restart_at is None and not s.retired and s.alive]
            while self.pending and workers:
                best = min(workers, key=lambda w: len(w.inflight))
                if len(best.inflight) >= MAX_INFLIGHT:
                    return
                ref = self.pending.popleft()
                best.inflight[(ref.camera_id, ref.seq)] = ref
                best.inbox.put(ref)
                best.queue_hwm = max(best.queue_hwm, len(best.inflight))

    def _make_ring(self, stage: Stage, request: RingRequest) -> None:
        """Create (as owner) a ring sized to the camera's frames and within /dev/shm's budget."""
        shape = (request.height, request.width, 3)
        with self.lock:
            cameras = max(1, len([s for s in self.stages.values() if s.kind == "capture"]))
        slots = ring_slots(shape, cameras, int(self.settings["workers"]))
        name = f"{self.prefix}{request.camera_id}-{next(self._ring_ids)}"
        ring = FrameRing.create(name, slots, shape)
        with self.lock:
            old = self.rings.get(request.camera_id)
            self.rings[request.camera_id] = ring
            if old is not None:
                old.unlink()
                self.retired_rings.append(old)
        log.info("camera %s: ring %s, %d slots of %dx%d", request.camera_id, name, slots, shape[1], shape[0])
        stage.inbox.put(RingReady(request.camera_id, name, slots, shape))

    def latest_view(self, camera_id: str) -> tuple[Any, FrameResult | None] | None:
        """A copy of the camera's newest frame and the newest faces found in it; None before any frame.

        Costs the pipeline nothing: the copy is taken from the ring only when someone asks.
        """
        with self.lock:
            ring = self.rings.get(camera_id)
        if ring is not None:
            copied = ring.copy_latest()
            if copied is not None:
                self._last_frames[camera_id] = copied
        frame = self._last_frames.get(camera_id)
        if frame is None:
            return None
        return frame[0].copy(), self.latest_results.get(camera_id)

    # --- figures --------------------------------------------------------------------------------
    def stage_figures(self) -> list[dict[str, Any]]:
        """One row per stage process: the shared counters plus what only the supervisor knows."""
        rows = []
        with self.lock:
            stages = list(self.stages.values())
        for stage in stages:
            row = self.board.row(stage.row)
            depth = len(stage.inflight) if stage.kind == "detect" else _qsize(stage.inbox)
            row.update(name=stage.name, kind=stage.kind, restarts=stage.restarts, queue_hwm=stage.queue_hwm,
                       queue_depth=depth, alive=stage.alive)
            rows.append(row)
        return rows

    def figures_by_kind(self, elapsed: float | None = None) -> dict[str, dict[str, Any]]:
        """The stage rows added up per kind (capture, detect, match, emit)."""
        out: dict[str, dict[str, Any]] = {}
        for row in self.stage_figures():
            agg = out.setdefault(row["kind"], {
                "frames_in": 0, "frames_out": 0, "fps": 0.0, "ms_p50": 0.0, "ms_p95": 0.0, "queue_hwm": 0,
                "queue_depth": 0, "cpu_s": 0.0, "cpu_ready_s": 0.0, "faces": 0, "encodings": 0, "drops": 0, "lost": 0,
                "restarts": 0, "processes": 0, "rss_mb": 0.0,
            })
            n = agg["processes"]
            for key in ("frames_in", "frames_out", "faces", "encodings", "drops", "lost", "restarts", "queue_depth"):
                agg[key] += int(row[key])
            agg["cpu_s"] += row["cpu_s"]
            agg["cpu_ready_s"] += row["cpu_ready_s"]
            agg["rss_mb"] += row["rss_mb"]
            agg["fps"] += row["fps"]
            agg["ms_p50"] = (agg["ms_p50"] * n + row["ms_p50"]) / (n + 1)
            agg["ms_p95"] = max(agg["ms_p95"], row["ms_p95"])
            agg["queue_hwm"] = max(agg["queue_hwm"], int(row["queue_hwm"]))
            agg["processes"] = n + 1
            if row["kind"] == "match":
                agg["latency_ms"] = {"p50": round(row["lat_p50"], 1), "p95": round(row["lat_p95"], 1)}
        if "detect" in out:
            out["detect"]["queue_hwm"] = max(out["detect"]["queue_hwm"], self.pending_hwm)
            out["detect"]["queue_depth"] += len(self.pending)
        if elapsed:
            for agg in out.values():
                agg["fps"] = agg["frames_out"] / elapsed
        for agg in out.values():
            for key in ("fps", "ms_p50", "ms_p95", "cpu_s", "cpu_ready_s", "rss_mb"):
                agg[key] = round(agg[key], 2)
        return out


def ring_slots(shape: tuple[int, int, int], cameras: int, workers: int) -> int:
    """Slots per camera: enough to keep every worker busy, within half of /dev/shm's free space, at most 50."""
    frame_bytes = shape[0] * shape[1] * shape[2]
    try:
        free = shutil.disk_usage("/dev/shm").free
    except OSError:
        free = 64 * 2**20
    budget = int(free * 0.5 / cameras // frame_bytes)
    wanted = max(8, 3 * workers + 4)
    slots = max(2, min(wanted, budget, 50))
    if slots < 4:
        log.warning("/dev/shm is small (%d MB free): only %d slots of %dx%d per camera; frames will be dropped",
                    free // 2**20, slots, shape[1], shape[0])
    return slots


def remove_leftovers_of_this_run(prefix: str) -> None:
    """Last sweep at shutdown: unlink any segment of this run that a crash path left behind."""
    from pathlib import Path

    from pipeline.shm import SHM_DIR
    for path in Path(SHM_DIR).glob(prefix + "*") if Path(SHM_DIR).is_dir() else []:
        try:
            path.unlink()
        except OSError:
            pass


def _qsize(q: Any) -> int:
    try:
        return q.qsize() if q is not None else 0
    except (NotImplementedError, OSError, ValueError):
        return 0


def _own_rss_mb() -> float:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return 0.0
