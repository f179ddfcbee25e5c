"""The hub: every message a stage sends passes through the supervisor, and `routes()` says where it goes.

Every queue has exactly one producer and one consumer, and the supervisor is one end of each:
a `multiprocessing.Queue` shared by several processes is guarded by a lock that a process
killed while holding it never gives back, which would hang every other stage. So one reader
thread per stage process routes what it sends. Messages are a few hundred bytes (pixels stay
in shared memory), so the extra hop costs well under a millisecond.

Frames wait here, oldest first, for a detect worker; each worker holds at most MAX_INFLIGHT,
so a dead worker's frames (given back by supervision) go to the others and load stays even.
A new message type is declared in pipeline/transport/messages.py and given its row in `routes()`.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pipeline.runtime.stage_kind import StageKind
from pipeline.supervision.process_table import Stage, StageTable
from pipeline.supervision.progress import RunProgress
from pipeline.transport.messages import (
    CameraStatus,
    EndOfStream,
    Event,
    FaceBatch,
    FrameRef,
    HeldFrames,
    ReplayDone,
    ResultBatch,
    RingRequest,
    Seen,
    UnknownFace,
)
from pipeline.transport.ring_allocator import RingAllocator
from pipeline.view.live_view import LiveView

log = logging.getLogger(__name__)

MAX_INFLIGHT = 2  # frames queued at one detect worker; the rest wait in the hub, oldest first


@dataclass
class RouteCounts:
    """What the hub has routed since the pipeline started, for `bench.profile`: messages by type, and the
    frames capture sent by kind: for detection, or kept off it (sent alone in a replay, else held and sent
    together: pipeline/gating/held_frames.py; match carries the tracks' boxes to them)."""

    messages: Counter[str] = field(default_factory=Counter)
    detected: int = 0
    undetected: int = 0


class Hub:
    def __init__(self, table: StageTable, rings: RingAllocator, live: LiveView, progress: RunProgress) -> None:
        self.table = table
        self.rings = rings
        self.live = live
        self.progress = progress
        self.pending: deque[FrameRef] = deque()
        self.pending_hwm = 0
        self.counts = RouteCounts()
        self._routes = self.routes()

    def routes(self) -> dict[type, Callable[[Stage, Any], None]]:
        """Message type -> what the hub does with it (sender -> destination)."""
        return {
            FrameRef: self._frame,  # capture -> the least busy detect worker, oldest frame first;
            #   a frame not for detection (a replay's) -> match, which carries the boxes
            FaceBatch: self._to_match,  # detect -> match; the worker may take another frame
            HeldFrames: self._held_frames,  # capture -> match: frames kept off detection, held together
            ResultBatch: self._results,  # match -> emit; the live view keeps each camera's newest
            Event: self._event,  # match -> emit; counted
            UnknownFace: self._to_emit,  # match -> emit
            Seen: self._to_emit,  # match -> emit: presence and attendance
            EndOfStream: self._end_of_stream,  # capture -> match; match (every frame through) -> emit
            ReplayDone: self._replay_done,  # emit -> the replay waiting in the supervisor
            RingRequest: self._ring_request,  # capture -> a new ring, answered with RingReady
            CameraStatus: self._camera_status,  # capture -> the live view
        }

    def route(self, sender: Stage, msg: Any) -> None:
        handler = self._routes.get(type(msg))
        if handler is None:
            log.warning("no route for %s from %s; dropped", type(msg).__name__, sender.name)
            return
        self.counts.messages[type(msg).__name__] += 1
        handler(sender, msg)

    # --- the destinations --------------------------------------------------------------------------
    def _frame(self, _sender: Stage, ref: FrameRef) -> None:
        if ref.detect is None:
            self.counts.undetected += 1
            self.send("match", ref)
            return
        self.counts.detected += 1
        with self.table.lock:
            self.pending.append(ref)
            self.pending_hwm = max(self.pending_hwm, len(self.pending))
        self.feed_workers()

    def _to_match(self, sender: Stage, batch: FaceBatch) -> None:
        with self.table.lock:
            sender.inflight.pop((batch.ref.camera_id, batch.ref.seq), None)
        self.rings.free(batch.ref)
        self.send("match", batch)
        self.feed_workers()

    def _held_frames(self, _sender: Stage, frames: HeldFrames) -> None:
        self.counts.undetected += len(frames.refs)
        self.send("match", frames)

    def _results(self, _sender: Stage, batch: ResultBatch) -> None:
        for result in batch.results:
            self.live.on_result(result)
        self.send("emit", batch)

    def _event(self, _sender: Stage, event: Event) -> None:
        self.progress.events += 1
        self.send("emit", event)

    def _to_emit(self, _sender: Stage, msg: Any) -> None:
        self.send("emit", msg)

    def _end_of_stream(self, sender: Stage, msg: EndOfStream) -> None:
        self.send("match" if sender.kind == StageKind.CAPTURE else "emit", msg)

    def _replay_done(self, _sender: Stage, msg: ReplayDone) -> None:
        self.progress.replay_done(msg.camera_id, msg.frames, msg.finished_at)

    def _ring_request(self, sender: Stage, request: RingRequest) -> None:
        cameras = max(1, len(self.table.of_kind(StageKind.CAPTURE)))
        if sender.inbox is not None:  # a stage sends only once spawned, which gives it its queues
            sender.inbox.put(self.rings.make(request, cameras))

    def _camera_status(self, _sender: Stage, status: CameraStatus) -> None:
        self.live.on_status(status)

    # --- delivery ----------------------------------------------------------------------------------
    def send(self, name: str, msg: Any) -> None:
        """Put `msg` in a stage's inbox; dropped while that stage is down (it restarts empty)."""
        with self.table.lock:
            stage = self.table.get(name)
            if stage is None or stage.inbox is None or stage.restart_at is not None:
                return
            stage.inbox.put(msg)
            try:
                stage.queue_hwm = max(stage.queue_hwm, stage.inbox.qsize())
            except NotImplementedError:
                pass

    def feed_workers(self) -> None:
        """Hand waiting frames, oldest first, to the least busy live detect worker."""
        with self.table.lock:
            workers = [s for s in self.table.of_kind(StageKind.DETECT) if s.restart_at is None and s.alive]
            while self.pending and workers:
                best = min(workers, key=lambda w: len(w.inflight))
                if len(best.inflight) >= MAX_INFLIGHT or best.inbox is None:
                    return
                ref = self.pending.popleft()
                best.inflight[(ref.camera_id, ref.seq)] = ref
                best.inbox.put(ref)
                best.queue_hwm = max(best.queue_hwm, len(best.inflight))

    def give_back(self, stage: Stage) -> int:
        """A dead worker's frames go back to the head of the line, in order; returns how many."""
        with self.table.lock:
            orphans = sorted(stage.inflight.values(), key=lambda ref: ref.seq)
            stage.inflight.clear()
            self.pending.extendleft(reversed(orphans))
        self.feed_workers()
        return len(orphans)

    # --- reading a stage's outbox --------------------------------------------------------------------
    def attach(self, stage: Stage) -> None:
        """Start routing what the stage's current process sends, on a thread of its own."""
        stage.reader = threading.Thread(
            target=self._read,
            args=(stage, stage.generation, stage.outbox, stage.process),
            name=f"hub {stage.name}",
            daemon=True,
        )
        stage.reader.start()

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
                self.route(stage, msg)
            except Exception:
                log.exception("routing %s from %s failed", type(msg).__name__, stage.name)
