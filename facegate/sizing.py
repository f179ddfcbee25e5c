"""How many cameras a node takes when `--max-cameras` is not given: this machine's cores and memory
times the figures measured on the project's own benchmarks.

A node that takes more cameras than its cores keep up with drops frames on all of them, and one
that runs out of memory is killed; the cameras no node has room for wait, shown as unassigned, until
one has (facegate/placement.py). So the default is the smaller of what the CPU carries and what the
memory holds, from the figures below (README "Carrying more cameras", docs/deploy.md "Sizing").
Cores and memory are read as a container sees them: the CPUs this process may run on and a cgroup's
CPU quota, the memory available and a cgroup's memory limit.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

# 640x360 cameras at 15 fps with a face in view, detect_fps 5, kept up with per core (`python -m bench.capacity`,
# 2 cores: HOG on grey 16 with room, 18 at the limit (2026-12-04, sixth pass); HOG on colour 14 with room, 16 at
# the limit (2026-12-04); BlazeFace on its sized input 28 with room, 32 at the limit (2026-12-04, fifth pass))
CAMERAS_PER_CORE = {"hog": 8.0, "hog-colour": 7.0, "blazeface": 14.0}
CAMERA_MB = 31.0  # one more 640x360 camera: its capture process and its ring (`python -m bench.memory`, 2026-12-03)
BASE_MB = 409.0  # the rest: supervisor, match, emit and two detect workers with ONNX Runtime (same run)
CGROUP = Path("/sys/fs/cgroup")
log = logging.getLogger(__name__)


def costed(detector: str, hog_input: str) -> str:
    """The pipeline's locator as CAMERAS_PER_CORE names it: HOG on colour costs a fifth more than on grey."""
    return "hog-colour" if detector == "hog" and hog_input == "colour" else detector


def max_cameras(detector: str, cores: float, available_mb: float | None) -> int:
    """Cameras a node with `cores` CPUs and `available_mb` of free memory (None: unknown) carries, at least 1."""
    by_cpu = math.floor(CAMERAS_PER_CORE.get(detector, min(CAMERAS_PER_CORE.values())) * cores)
    if available_mb is None:
        return max(1, by_cpu)
    return max(1, min(by_cpu, math.floor((available_mb - BASE_MB) / CAMERA_MB)))


def cores() -> float:
    """The CPUs this process may use: its affinity, lowered by a cgroup v2 quota (`docker run --cpus`)."""
    count = float(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    try:
        quota, period = (CGROUP / "cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        return count
    return count if quota == "max" else min(count, max(int(quota) / int(period), 1.0))


def available_mb() -> float | None:
    """Memory this process may still use, in MB: MemAvailable, lowered by a cgroup v2 limit; None if unknown."""
    try:
        meminfo = Path("/proc/meminfo").read_text()
        available = next(int(line.split()[1]) for line in meminfo.splitlines() if line.startswith("MemAvailable:"))
    except (OSError, StopIteration, ValueError, IndexError):
        return None
    found = available / 1024.0
    try:
        limit, used = ((CGROUP / name).read_text().strip() for name in ("memory.max", "memory.current"))
        if limit != "max":
            found = min(found, (int(limit) - int(used)) / 2**20)
    except (OSError, ValueError):
        pass
    return found


def node_max_cameras(given: int | None, detector: str) -> int:
    """The `max_cameras` setting if the operator set it, else what this machine carries (logged, with why)."""
    if given is not None:
        return given
    found_cores, found_mb = cores(), available_mb()
    sized = max_cameras(detector, found_cores, found_mb)
    memory = "memory unknown" if found_mb is None else f"{found_mb:.0f} MB available"
    log.info(
        "max_cameras %d: sized for %s from %g cores, %s (--max-cameras sets it)", sized, detector, found_cores, memory
    )
    return sized
