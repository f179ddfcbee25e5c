"""Moving a 1080p frame between two processes: a shared-memory slot and its index vs the pickled pixels.

Shared memory uses the pipeline's own FrameRing: the writer copies the frame into a free slot,
publishes it and sends (slot, seq) over a multiprocessing.Queue; the reader, attached to the ring
once as a detect worker is, checks the slot still holds that seq, takes a view, reads the seq
stamped into the pixels and frees the slot. The other way puts the whole array on a
multiprocessing.Queue (pickled by its feeder thread, unpickled by the reader). Each frame is
timed from just before the writer touches it to just after the reader has it; perf_counter is
CLOCK_MONOTONIC, one clock for both processes. One frame is in flight at a time, so what is
measured is the cost per frame, not queueing.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from typing import Any

import numpy as np

from pipeline.transport.frame_ring import FrameRing

SHAPE = (1080, 1920, 3)
FRAMES = 60
WARMUP = 5
WAIT_S = 30.0


def _stamp(frame: np.ndarray, seq: int) -> None:
    frame.reshape(-1)[:8] = np.frombuffer(np.int64(seq).tobytes(), dtype=np.uint8)


def _stamped(frame: np.ndarray) -> int:
    return int(frame.reshape(-1)[:8].view(np.int64)[0])


def _shm_reader(ring_name: str, inbox: Any, outbox: Any) -> None:
    """Child: attach once, then for each (slot, seq, t0) read the view and answer (seq, t1, ok)."""
    ring = FrameRing.attach(ring_name)
    outbox.put("ready")
    while (msg := inbox.get(timeout=WAIT_S)) is not None:
        slot, seq = msg
        ok = ring.holds(slot, seq) and _stamped(ring.frame(slot)) == seq
        arrived = time.perf_counter()
        ring.release(slot, seq)
        outbox.put((seq, arrived, ok))
    ring.close()


def _pickle_reader(inbox: Any, outbox: Any) -> None:
    """Child: for each pickled frame answer (seq, t1, ok)."""
    outbox.put("ready")
    while (msg := inbox.get(timeout=WAIT_S)) is not None:
        seq, frame = msg
        arrived = time.perf_counter()
        outbox.put((seq, arrived, _stamped(frame) == seq and frame.shape == SHAPE))


def _percentiles(ms: list[float]) -> dict[str, float]:
    p50, p95 = np.percentile(ms, (50, 95))
    return {"p50": round(float(p50), 3), "p95": round(float(p95), 3), "mean": round(float(np.mean(ms)), 3)}


def _time_frames(send: Any, answers: Any, frames: int, warmup: int) -> list[float]:
    """Send frames one at a time; the reader's arrival time minus the send time, in ms, after warm-up."""
    ms = []
    for seq in range(warmup + frames):
        sent = time.perf_counter()
        send(seq)
        got, arrived, ok = answers.get(timeout=WAIT_S)
        if got != seq or not ok:
            raise RuntimeError(f"frame {seq} arrived wrong (got {got}, ok={ok})")
        if seq >= warmup:
            ms.append((arrived - sent) * 1000.0)
    return ms


def _run_reader(ctx: Any, target: Any, args: tuple, body: Any) -> list[float]:
    """Start the reader process, wait until it is ready, run `body(inbox, outbox)`, stop the reader."""
    inbox, outbox = ctx.Queue(), ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, inbox, outbox), daemon=True)
    proc.start()
    try:
        if outbox.get(timeout=WAIT_S) != "ready":
            raise RuntimeError("reader did not start")
        return body(inbox, outbox)
    finally:
        inbox.put(None)
        proc.join(10.0)
        if proc.is_alive():
            proc.kill()
            proc.join(5.0)


def shared_memory_ms(source: np.ndarray, frames: int = FRAMES, warmup: int = WARMUP) -> list[float]:
    ctx = multiprocessing.get_context("spawn")
    name = f"fgbench-{os.getpid()}-transport"  # not facegate-*: a supervisor's leftover sweep must not take it
    ring = FrameRing.create(name, 2, source.shape)

    def body(inbox: Any, outbox: Any) -> list[float]:
        def send(seq: int) -> None:
            slot = seq % ring.slots
            if ring.claim_free(slot) != slot:  # the reader frees each slot before it answers
                raise RuntimeError(f"slot {slot} is still busy")
            ring.begin_write(slot)
            np.copyto(ring.frame(slot), source)
            _stamp(ring.frame(slot), seq)
            ring.publish(slot, seq, 0.0, time.time())
            inbox.put((slot, seq))

        return _time_frames(send, outbox, frames, warmup)

    try:
        return _run_reader(ctx, _shm_reader, (name,), body)
    finally:
        ring.unlink()
        ring.close()


def pickled_ms(source: np.ndarray, frames: int = FRAMES, warmup: int = WARMUP) -> list[float]:
    ctx = multiprocessing.get_context("spawn")

    def body(inbox: Any, outbox: Any) -> list[float]:
        def send(seq: int) -> None:
            frame = source.copy()  # a fresh frame each time, as capture would hand over
            _stamp(frame, seq)
            inbox.put((seq, frame))

        return _time_frames(send, outbox, frames, warmup)

    return _run_reader(ctx, _pickle_reader, (), body)


def measure(frames: int = FRAMES, warmup: int = WARMUP, shape: tuple[int, int, int] = SHAPE) -> dict[str, Any]:
    """ms per 1920x1080x3 uint8 frame, shared memory vs pickled, between two real processes."""
    source = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    shm = _percentiles(shared_memory_ms(source, frames, warmup))
    pickled = _percentiles(pickled_ms(source, frames, warmup))
    return {
        "shape": list(shape),
        "frames": frames,
        "shared_memory_ms": shm,
        "pickled_queue_ms": pickled,
        "speedup_p50": round(pickled["p50"] / shm["p50"], 1) if shm["p50"] else 0.0,
    }


if __name__ == "__main__":
    import json

    print(json.dumps(measure(), indent=2))
