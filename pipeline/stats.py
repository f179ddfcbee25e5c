"""Per-process counters in shared memory: each stage writes its own row, the supervisor reads all.

A row has a single writer (the process that owns it), so no lock is needed; a reader may see a
row mid-update, which for monotonic counters and gauges is harmless.
"""

from __future__ import annotations

import resource
import time
from collections import deque
from multiprocessing.sharedctypes import RawArray
from typing import Any

import numpy as np

LATENCY_BUCKETS_S = (0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.5, 5.0)  # Prometheus histogram bounds
FIELDS = ("frames_in", "frames_out", "faces", "encodings", "drops", "lost", "busy_s", "cpu_s", "cpu_ready_s",
          "ms_p50", "ms_p95", "lat_p50", "lat_p95", "last_beat", "started", "fps", "pid", "rss_mb", "ready",
          "lat_sum", "lat_count", *(f"lat_le_{b}" for b in LATENCY_BUCKETS_S))
INDEX = {name: i for i, name in enumerate(FIELDS)}
BUCKET_INDEX = [INDEX[f"lat_le_{b}"] for b in LATENCY_BUCKETS_S]


class StatsBoard:
    """A (rows x fields) table of doubles shared by every process of a run."""

    def __init__(self, rows: int = 64, array: Any = None) -> None:
        self.rows = rows
        self.array = array if array is not None else RawArray("d", rows * len(FIELDS))
        self.table = np.frombuffer(self.array, dtype=np.float64).reshape(rows, len(FIELDS))

    def __getstate__(self) -> dict[str, Any]:
        return {"rows": self.rows, "array": self.array}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["rows"], state["array"])

    def row(self, index: int) -> dict[str, float]:
        return dict(zip(FIELDS, (float(v) for v in self.table[index]), strict=True))

    def clear(self, index: int) -> None:
        self.table[index] = 0.0


class StageMeter:
    """What a stage process uses to publish its progress into its row of the board."""

    def __init__(self, board: StatsBoard, row: int, pid: int) -> None:
        self.values = board.table[row]
        self.values[:] = 0.0
        now = time.time()
        self.values[INDEX["started"]] = now
        self.values[INDEX["last_beat"]] = now
        self.values[INDEX["pid"]] = pid
        self._ms: deque[float] = deque(maxlen=512)
        self._latency: deque[float] = deque(maxlen=2048)
        self._window: deque[float] = deque(maxlen=256)
        self._published = 0.0

    def add(self, field: str, amount: float = 1.0) -> None:
        self.values[INDEX[field]] += amount

    def set(self, field: str, value: float) -> None:
        self.values[INDEX[field]] = value

    def mark_ready(self) -> None:
        """The stage has started up; the CPU spent so far (imports, dlib models) is kept apart from per-frame work."""
        self.values[INDEX["cpu_ready_s"]] = _cpu_s()
        self.values[INDEX["ready"]] = 1.0

    def frame_done(self, ms: float, frames: int = 1) -> None:
        now = time.time()
        self.values[INDEX["frames_out"]] += frames
        self.values[INDEX["busy_s"]] += ms / 1000.0
        self._ms.append(ms)
        self._window.append(now)
        self.beat(now)

    def latency(self, seconds: float) -> None:
        """Capture-to-decision time of one frame: kept for percentiles and counted into histogram buckets."""
        self._latency.append(seconds * 1000.0)
        self.values[INDEX["lat_sum"]] += seconds
        self.values[INDEX["lat_count"]] += 1
        for bound, index in zip(LATENCY_BUCKETS_S, BUCKET_INDEX, strict=True):
            if seconds <= bound:
                self.values[index] += 1

    def beat(self, now: float | None = None) -> None:
        """Say 'still alive and making progress'; publishes percentiles a few times a second."""
        now = time.time() if now is None else now
        self.values[INDEX["last_beat"]] = now
        if now - self._published >= 0.25:
            self.publish(now)

    def publish(self, now: float | None = None) -> None:
        now = time.time() if now is None else now
        self._published = now
        if self._ms:
            p50, p95 = np.percentile(np.fromiter(self._ms, float), (50, 95))
            self.values[INDEX["ms_p50"]], self.values[INDEX["ms_p95"]] = p50, p95
        if self._latency:
            p50, p95 = np.percentile(np.fromiter(self._latency, float), (50, 95))
            self.values[INDEX["lat_p50"]], self.values[INDEX["lat_p95"]] = p50, p95
        recent = [t for t in self._window if now - t <= 2.0]
        self.values[INDEX["fps"]] = len(recent) / 2.0 if recent else 0.0
        self.values[INDEX["cpu_s"]] = _cpu_s()
        self.values[INDEX["rss_mb"]] = _rss_mb()


def _cpu_s() -> float:
    """User + system CPU seconds of this process, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
