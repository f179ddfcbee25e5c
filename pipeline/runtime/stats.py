"""Per-process counters in shared memory: each stage writes its own row, the supervisor reads and sums them.

A row has a single writer (the process that owns it), so no lock is needed; a reader may see a
row mid-update, which for monotonic counters and gauges is harmless. Read back, a row is a
`BoardRow`; with what only the supervisor knows added, a `StageFigures`, and `by_kind` sums
those per stage kind for /api/stats and the replay's report.
"""

from __future__ import annotations

import resource
import time
from collections import deque
from dataclasses import asdict, dataclass, fields
from multiprocessing.sharedctypes import RawArray
from typing import Any

import numpy as np

from facegate.procutil import rss_mb
from pipeline.runtime.stage_kind import StageKind

LATENCY_BUCKETS_S = (0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.5, 5.0)  # Prometheus histogram bounds


@dataclass(frozen=True)
class BoardRow:
    """One process's row of the board: counters, gauges and times, all doubles as stored."""

    frames_in: float
    frames_out: float
    faces: float
    encodings: float  # detect: encodings computed; emit: events written
    drops: float
    shed: float  # capture: frames the gate chose for detection, sent on undetected while detection was backed up
    lost: float
    busy_s: float
    cpu_s: float
    cpu_ready_s: float  # CPU seconds spent starting up (imports, models), before the first frame
    ms_p50: float  # per frame
    ms_p95: float
    lat_p50: float  # capture to decision, ms (match)
    lat_p95: float
    last_beat: float  # wall clock
    started: float
    fps: float  # over the last two seconds
    pid: float
    rss_mb: float
    ready: float  # 1 once started up
    lat_sum: float  # seconds, for the Prometheus histogram
    lat_count: float
    gallery_version: float  # match: the version of the gallery it names faces with
    latency_le: tuple[float, ...]  # frames at or under each LATENCY_BUCKETS_S bound


SCALARS = tuple(f.name for f in fields(BoardRow))[:-1]
FIELDS = (*SCALARS, *(f"lat_le_{b}" for b in LATENCY_BUCKETS_S))
INDEX = {name: i for i, name in enumerate(FIELDS)}
BUCKET_INDEX = [INDEX[f"lat_le_{b}"] for b in LATENCY_BUCKETS_S]


# what GET /api/status shows of each stage process, in this order (the seed's fields first)
SHOWN_FIELDS = (
    "name",
    "kind",
    "pid",
    "alive",
    "frames_in",
    "frames_out",
    "fps",
    "ms_p50",
    "ms_p95",
    "faces",
    "encodings",
    "drops",
    "shed",
    "lost",
    "queue_depth",
    "queue_hwm",
    "restarts",
    "cpu_s",
    "rss_mb",
)


@dataclass(frozen=True)
class StageFigures(BoardRow):
    """A stage process's row plus what only the supervisor knows of it."""

    name: str
    kind: StageKind
    restarts: int
    queue_hwm: int
    queue_depth: int
    alive: bool

    @classmethod
    def of(cls, row: BoardRow, **supervisor: Any) -> StageFigures:
        return cls(**asdict(row), **supervisor)

    def shown(self) -> dict[str, Any]:
        """The fields GET /api/status lists for each stage process, in that order."""
        return {name: getattr(self, name) for name in SHOWN_FIELDS}


class StatsBoard:
    """A (rows x fields) table of doubles shared by every process of a run."""

    def __init__(self, rows: int = 64, array: Any = None) -> None:
        self._attach(rows, array if array is not None else RawArray("d", rows * len(FIELDS)))

    def _attach(self, rows: int, array: Any) -> None:
        self.rows = rows
        self.array = array
        self.table = np.frombuffer(self.array, dtype=np.float64).reshape(rows, len(FIELDS))

    def __getstate__(self) -> dict[str, Any]:
        return {"rows": self.rows, "array": self.array}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._attach(state["rows"], state["array"])

    def row(self, index: int) -> BoardRow:
        values = [float(v) for v in self.table[index]]
        return BoardRow(**dict(zip(SCALARS, values, strict=False)), latency_le=tuple(values[len(SCALARS) :]))

    def clear(self, index: int) -> None:
        self.table[index] = 0.0


PUBLISH_EVERY_S = 1.0  # how stale a stage's percentiles, CPU and memory on the board may be


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
        """A gauge: the stage's current value of `field`."""
        self.values[INDEX[field]] = value

    def mark_ready(self) -> None:
        """The stage has started up; the CPU spent so far (imports, dlib models) is kept apart from per-frame work."""
        self.values[INDEX["cpu_ready_s"]] = process_cpu_s()
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
        """Say 'still alive and making progress'; publishes percentiles, CPU and memory once a second (four
        times a second, that was ~6% of a 15 fps capture process's CPU: bench.profile)."""
        now = time.time() if now is None else now
        self.values[INDEX["last_beat"]] = now
        if now - self._published >= PUBLISH_EVERY_S:
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
        self.values[INDEX["cpu_s"]] = process_cpu_s()
        self.values[INDEX["rss_mb"]] = rss_mb()


def process_cpu_s() -> float:
    """User + system CPU seconds of this process, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


SUMMED = ("frames_in", "frames_out", "faces", "encodings", "drops", "shed", "lost", "restarts", "queue_depth")
ROUNDED = ("fps", "ms_p50", "ms_p95", "cpu_s", "cpu_ready_s", "rss_mb")


def by_kind(rows: list[StageFigures], elapsed: float | None = None) -> dict[str, dict[str, Any]]:
    """Stage rows (see `Pipeline.stage_figures`) added up per kind (capture, detect, match, emit).

    Counts and CPU add up, p50 is the mean of the processes' medians, p95 and the queue high-water
    mark the largest; with `elapsed`, fps is frames out over that time instead of the recent rate.
    """
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        agg = out.setdefault(
            row.kind,
            {
                **dict.fromkeys(SUMMED, 0),
                "fps": 0.0,
                "ms_p50": 0.0,
                "ms_p95": 0.0,
                "queue_hwm": 0,
                "cpu_s": 0.0,
                "cpu_ready_s": 0.0,
                "processes": 0,
                "rss_mb": 0.0,
            },
        )
        n = agg["processes"]
        for key in SUMMED:
            agg[key] += int(getattr(row, key))
        for key in ("cpu_s", "cpu_ready_s", "rss_mb", "fps"):
            agg[key] += getattr(row, key)
        agg["ms_p50"] = (agg["ms_p50"] * n + row.ms_p50) / (n + 1)
        agg["ms_p95"] = max(agg["ms_p95"], row.ms_p95)
        agg["queue_hwm"] = max(agg["queue_hwm"], row.queue_hwm)
        agg["processes"] = n + 1
        if row.kind == StageKind.MATCH:
            agg["latency_ms"] = {"p50": round(row.lat_p50, 1), "p95": round(row.lat_p95, 1)}
            agg["gallery_version"] = int(row.gallery_version)
    if elapsed:
        for agg in out.values():
            agg["fps"] = agg["frames_out"] / elapsed
    for agg in out.values():
        for key in ROUNDED:
            agg[key] = round(agg[key], 2)
    return out
