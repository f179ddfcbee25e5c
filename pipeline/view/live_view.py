"""What the API shows of the running pipeline: each camera's state, its newest faces and frame.

The hub records camera states and frame results as they pass; a frame is copied out of the
camera's ring only when someone asks (a snapshot, an MJPEG part), so watching costs the
pipeline nothing in between.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import numpy as np

from pipeline.transport.frame_ring import FrameRing
from pipeline.transport.messages import CameraStatus, FrameResult


class LiveView:
    def __init__(self) -> None:
        self._status: dict[str, CameraStatus] = {}
        self._results: dict[str, FrameResult] = {}
        self._frames: dict[str, tuple[np.ndarray, int]] = {}
        self.camera_status: Mapping[str, CameraStatus] = MappingProxyType(self._status)
        self.latest_results: Mapping[str, FrameResult] = MappingProxyType(self._results)

    def on_status(self, status: CameraStatus) -> None:
        self._status[status.camera_id] = status

    def on_result(self, result: FrameResult) -> None:
        self._results[result.camera_id] = result

    def forget(self, camera_id: str) -> None:
        for table in (self._status, self._results, self._frames):
            table.pop(camera_id, None)

    def frame_and_faces(self, camera_id: str, ring: FrameRing | None) -> tuple[np.ndarray, FrameResult | None] | None:
        """A copy of the camera's newest frame and the newest faces found in it; None before any frame."""
        if ring is not None:
            copied = ring.copy_latest()
            if copied is not None:
                self._frames[camera_id] = copied
        frame = self._frames.get(camera_id)
        if frame is None:
            return None
        return frame[0].copy(), self._results.get(camera_id)
