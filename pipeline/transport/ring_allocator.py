"""Ring allocation: the supervisor creates (and alone unlinks) each camera's frame ring.

A capture learns its frame size from the first frame and asks for a ring (RingRequest); the
ring is sized to keep every detect worker busy within half of /dev/shm's free space, as
Frigate budgets its frame buffers. A camera's older ring is unlinked at once (attached
processes keep their mapping until they close it) and closed at shutdown.
"""

from __future__ import annotations

import itertools
import logging
import shutil
import threading

from pipeline.transport.frame_ring import FrameRing
from pipeline.transport.messages import FrameRef, RingReady, RingRequest
from pipeline.transport.shm import SHM_DIR, run_prefix

log = logging.getLogger(__name__)


class RingAllocator:
    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.prefix = run_prefix()  # facegate-<supervisor pid>-: every segment of this run
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._rings: dict[str, FrameRing] = {}
        self._retired: list[FrameRing] = []

    def make(self, request: RingRequest, cameras: int) -> RingReady:
        """Create a ring sized to the camera's frames, replacing the camera's older one."""
        shape = (request.height, request.width, 3)
        slots = ring_slots(shape, cameras, self.workers)
        name = f"{self.prefix}{request.camera_id}-{next(self._ids)}"
        ring = FrameRing.create(name, slots, shape)
        with self._lock:
            old = self._rings.get(request.camera_id)
            self._rings[request.camera_id] = ring
            if old is not None:
                old.unlink()
                self._retired.append(old)
        log.info("camera %s: ring %s, %d slots of %dx%d", request.camera_id, name, slots, shape[1], shape[0])
        return RingReady(request.camera_id, name, slots, shape)

    def get(self, camera_id: str) -> FrameRing | None:
        with self._lock:
            return self._rings.get(camera_id)

    def free(self, ref: FrameRef) -> None:
        """The frame's detection has reached the supervisor: its slot may take a new frame (why here and not
        in the worker: pipeline/transport/frame_ring.py)."""
        with self._lock:
            ring = self._rings.get(ref.camera_id)
            if ring is not None and ring.name == ref.ring:
                ring.release(ref.slot, ref.seq)

    def drop(self, camera_id: str) -> None:
        """The camera is gone: unlink its ring now, close it at shutdown."""
        with self._lock:
            ring = self._rings.pop(camera_id, None)
            if ring is not None:
                ring.unlink()
                self._retired.append(ring)

    def release_all(self) -> None:
        """Unlink and close every ring of this run, then sweep what a crash path may have left."""
        with self._lock:
            rings = list(self._rings.values()) + self._retired
            self._rings.clear()
            self._retired = []
        for ring in rings:
            ring.unlink()
            ring.close()
        for path in SHM_DIR.glob(self.prefix + "*") if SHM_DIR.is_dir() else []:
            try:
                path.unlink()
            except OSError:
                pass


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
        log.warning(
            "/dev/shm is small (%d MB free): only %d slots of %dx%d per camera; frames will be dropped",
            free // 2**20,
            slots,
            shape[1],
            shape[0],
        )
    return slots
