"""Detect: a pool of workers that locate every face in every frame and encode only what is needed.

Locating runs on each frame with the calls of the reference loop (`bench/loop.py`: same resize, same
colour conversion, same dlib detector), so the faces found per frame are the same. The encoding
(dlib's network, ~11 ms a face on ONNX Runtime: facegate/encoder.py) runs only for a face that belongs to
no known track, or whose track is due for a re-check (see pipeline/transport/track_hints.py), and
is wide enough (the camera's `min_face_px`). A face whose centre lies in a region its camera ignores
(facegate/regions.py) is dropped as soon as it is located: no encoding, no track, no result.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict

import cv2
import numpy as np

from facegate.crops import face_crop
from facegate.encoder import face_encodings, use
from facegate.records import Box
from facegate.regions import ignored
from pipeline.detectors.factory import make_detector, options_from
from pipeline.detectors.locator import DetectorOptions, FaceLocator, ModelFileError
from pipeline.runtime.stage_context import ConfigFollower, DetectOptions, StageContext, receive
from pipeline.transport.frame_ring import FrameRing
from pipeline.transport.messages import Face, FaceBatch, FrameRef, Stop

log = logging.getLogger(__name__)


def shrink(frame: np.ndarray, downscale: float) -> np.ndarray:
    """The frame as the detector sees it: resized as the reference loop does, converted BGR to RGB."""
    small = frame if downscale == 1.0 else cv2.resize(frame, (0, 0), fx=downscale, fy=downscale)
    return cv2.cvtColor(small, cv2.COLOR_BGR2RGB)


def to_full_frame(box: tuple[int, int, int, int], downscale: float, height: int, width: int) -> Box:
    """A box found on the shrunk frame, in full-frame pixels (truncated, as v1 boxes are), inside the frame."""
    top, right, bottom, left = (int(v / downscale) for v in box)
    return (min(max(top, 0), height), min(max(right, 0), width), min(max(bottom, 0), height), min(max(left, 0), width))


class RingCache:
    """Rings attached by name; a camera's older ring is closed once it sends frames in a newer one."""

    def __init__(self) -> None:
        self._rings: OrderedDict[str, FrameRing] = OrderedDict()

    def get(self, name: str) -> FrameRing | None:
        ring = self._rings.get(name)
        if ring is None:
            try:
                ring = FrameRing.attach(name)
            except (FileNotFoundError, OSError, ValueError):
                return None
            self._rings[name] = ring
            while len(self._rings) > 16:
                self._rings.popitem(last=False)[1].close()
        return ring

    def close(self) -> None:
        for ring in self._rings.values():
            ring.close()
        self._rings.clear()


class Detector:
    def __init__(self, ctx: StageContext) -> None:
        self.ctx = ctx
        self.stop, self.meter = ctx.begin()
        self.config = ConfigFollower(ctx)
        # The encoding network (its weights already in memory when forked from the stage forkserver) on
        # the encoder the settings name, ready before the first face; a start setting: a change takes a restart.
        self.encoder = use(self.config.settings.encoder)
        self.rings = RingCache()
        assert isinstance(ctx.options, DetectOptions)
        self.worker = ctx.options.index
        self.locator_key = self.locator_wanted()
        self.locator: FaceLocator = make_detector(self.locator_key[0], self.locator_key[1])
        self.meter.mark_ready()
        log.info(
            "ready (%s, downscale %.2f, encoder %s)", self.locator.name, self.config.settings.downscale, self.encoder
        )

    def locator_wanted(self) -> tuple[str, DetectorOptions]:
        s = self.config.settings
        return s.face_detector, options_from(s)

    def follow_locator(self) -> None:
        """After a config change: the detector it names (a model that fails to load keeps the current one)."""
        wanted = self.locator_wanted()
        if wanted == self.locator_key:
            return
        try:
            self.locator = make_detector(wanted[0], wanted[1])
        except (ModelFileError, ValueError) as exc:
            log.error("keeping the %s detector: %s", self.locator.name, exc)
        else:
            log.info("detector is now %s", self.locator.name)
        self.locator_key = wanted

    def process(self, ref: FrameRef) -> FaceBatch:
        started = time.perf_counter()
        ring = self.rings.get(ref.ring)
        if ring is None or not ring.holds(ref.slot, ref.seq):
            return FaceBatch(ref, [], self.worker, lost=True)
        s = self.config.settings
        downscale = s.downscale
        rgb = shrink(ring.frame(ref.slot), downscale)
        if not ring.holds(ref.slot, ref.seq):
            return FaceBatch(ref, [], self.worker, lost=True)
        height, width = ref.shape[0], ref.shape[1]
        camera = self.config.camera(ref.camera_id)
        regions = camera.ignore_regions if camera is not None else ()
        located = [(box, to_full_frame(box, downscale, height, width)) for box in self.locate(rgb)]
        kept = [(box, full) for box, full in located if not ignored(full, height, width, regions)]
        found, boxes = [box for box, _ in kept], [full for _, full in kept]
        min_px = s.own_or_global("min_face_px", camera)
        wanted = [
            i for i, box in enumerate(boxes) if box[1] - box[3] >= min_px and ring.hints.should_encode(box, ref.pts)
        ]
        encodings = face_encodings(rgb, [found[i] for i in wanted])
        by_index = dict(zip(wanted, encodings, strict=True))
        frame = ring.frame(ref.slot)
        faces = [
            Face(box, by_index.get(i), self.crop(frame, box) if i in by_index else None) for i, box in enumerate(boxes)
        ]
        self.meter.add("faces", len(faces))
        self.meter.add("encodings", len(wanted))
        return FaceBatch(ref, faces, self.worker, detect_ms=(time.perf_counter() - started) * 1000.0)

    def locate(self, rgb: np.ndarray) -> list[tuple[int, int, int, int]]:
        """Face boxes (top, right, bottom, left) on the shrunk frame, by the detector the settings name."""
        return self.locator.locate(rgb)

    @staticmethod
    def crop(frame: np.ndarray, box: Box) -> bytes | None:
        try:
            return face_crop(frame, box)
        except (ValueError, cv2.error):
            return None

    def run(self) -> None:
        while not self.stop:
            msg = receive(self.ctx.inbox, self.stop, self.meter)
            if self.config.poll():
                self.follow_locator()
            if msg is None:
                continue
            if isinstance(msg, Stop):
                break
            if not isinstance(msg, FrameRef):
                continue
            self.meter.add("frames_in")
            batch = self.process(msg)
            self.ctx.outbox.put(batch)  # the supervisor frees the slot when this reaches it
            if batch.lost:
                self.meter.add("lost")
            self.meter.frame_done(batch.detect_ms)
        self.meter.publish()
        self.rings.close()


def run(ctx: StageContext) -> None:
    """Process entry point."""
    Detector(ctx).run()
