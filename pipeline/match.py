"""Match: put each camera's frames back in order, follow faces as tracks, name them, decide events.

Frames arrive from several detect workers out of order; tracking needs them in order, so a
small reorder buffer per camera releases them by sequence number (a frame that never comes is
skipped after a short wait). A track's name is a vote over its recent encodings, weighted by
face size and by how far inside the threshold each distance is, so one bad angle does not
rename a person. An event is a person appearing on a camera: one per person per camera per
`event_cooldown_s`, measured in the stream's own time so a replay decides as live would.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field

import numpy as np

from facegate.store import Store, iso_now, new_event_id
from pipeline.gallery import UNKNOWN, Gallery
from pipeline.messages import (
    Box,
    CameraUrls,
    EndOfStream,
    Event,
    FaceBatch,
    FaceResult,
    FrameResult,
    Stop,
    UnknownFace,
)
from pipeline.ring import FrameRing
from pipeline.stage import ConfigFollower, StageContext, receive
from pipeline.tracking import HINT_ROWS, MATCH_IOU, iou

log = logging.getLogger(__name__)

TRACK_TTL_S = 1.0  # a track unseen for this long has left
MAX_ATTEMPTS = 12  # encodings remembered per track for the vote
UNKNOWN_MIN_ATTEMPTS = 2  # attempts before an unnamed face counts as an Unknown person
REORDER_WAIT_S = 1.0  # how long a missing frame may hold up the frames after it (live)
REPLAY_WAIT_S = 30.0  # a replay loses no frame: wait out a detect worker's restart


@dataclass
class Attempt:
    name: str
    distance: float
    weight: float


@dataclass
class Track:
    id: int
    box: Box
    first_pts: float
    last_pts: float
    hint_row: int
    attempts: deque[Attempt] = field(default_factory=lambda: deque(maxlen=MAX_ATTEMPTS))
    encoded_pts: float = -1e18
    enc_box: Box | None = None
    name: str = UNKNOWN
    distance: float = 1.0
    crop: bytes | None = None  # the latest crop of an attempt that matched no one
    crop_encoding: np.ndarray | None = None

    def vote(self, threshold: float) -> None:
        """Name the track from its attempts: a weighted vote among names; Unknown only when none matched."""
        scores: dict[str, float] = defaultdict(float)
        best: dict[str, float] = {}
        for attempt in self.attempts:
            if attempt.name != UNKNOWN:
                scores[attempt.name] += attempt.weight * (threshold - attempt.distance + 0.05)
                best[attempt.name] = min(best.get(attempt.name, 1.0), attempt.distance)
        if scores:
            self.name = max(scores, key=scores.__getitem__)
            self.distance = best[self.name]
        else:
            self.name = UNKNOWN
            self.distance = min((a.distance for a in self.attempts), default=1.0)

    @property
    def decided(self) -> bool:
        return self.name != UNKNOWN or len(self.attempts) >= UNKNOWN_MIN_ATTEMPTS


class CameraTracks:
    """The tracks of one camera and the event memory that goes with them."""

    def __init__(self, camera_id: str) -> None:
        self.camera_id = camera_id
        self.tracks: list[Track] = []
        self.next_id = 1
        self.last_event: dict[str, float] = {}
        self.ring: FrameRing | None = None

    def attach(self, ring_name: str) -> None:
        if self.ring is not None and self.ring.name == ring_name:
            return
        if self.ring is not None:
            self.ring.close()
        try:
            self.ring = FrameRing.attach(ring_name)
            self.ring.hints.clear()
        except (FileNotFoundError, OSError, ValueError):
            self.ring = None
        self.tracks.clear()

    def _free_row(self) -> int:
        used = {t.hint_row for t in self.tracks}
        return next((row for row in range(HINT_ROWS) if row not in used), -1)

    def associate(self, boxes: list[Box], pts: float) -> list[Track]:
        """The track of each box: greedy by overlap, new tracks for the rest, stale tracks dropped."""
        self.tracks = [t for t in self.tracks if pts - t.last_pts <= TRACK_TTL_S or self._retire(t)]
        pairs = sorted(((iou(box, t.box), i, j) for i, box in enumerate(boxes) for j, t in enumerate(self.tracks)),
                       reverse=True)
        chosen: dict[int, Track] = {}
        taken: set[int] = set()
        for overlap, i, j in pairs:
            if overlap < MATCH_IOU:
                break
            if i in chosen or j in taken:
                continue
            chosen[i] = self.tracks[j]
            taken.add(j)
        result = []
        for i, box in enumerate(boxes):
            track = chosen.get(i)
            if track is None:
                track = Track(self.next_id, box, pts, pts, self._free_row())
                self.next_id += 1
                self.tracks.append(track)
            track.box, track.last_pts = box, pts
            result.append(track)
        return result

    def _retire(self, track: Track) -> bool:
        if self.ring is not None and track.hint_row >= 0:
            self.ring.hints.retire(track.hint_row)
        return False

    def publish_hints(self, fresh: set[int]) -> None:
        if self.ring is None:
            return
        for track in self.tracks:
            if track.hint_row >= 0:
                self.ring.hints.publish(track.hint_row, track.id, track.box, track.name != UNKNOWN,
                                        track.encoded_pts, track.enc_box, track.id in fresh)

    def forget_names(self) -> None:
        """After a gallery change every track is judged again, so a deleted person stops being named."""
        for track in self.tracks:
            track.attempts.clear()
            track.name, track.encoded_pts = UNKNOWN, -1e18
        self.publish_hints(set())


class Matcher:
    def __init__(self, ctx: StageContext) -> None:
        self.ctx = ctx
        self.stop, self.meter = ctx.begin()
        self.config = ConfigFollower(ctx)
        self.store = Store(ctx.data_dir)
        self.gallery_version = -1
        self.gallery = Gallery(np.zeros((0, 128)), [])
        self.gallery_checked = 0.0
        self.cameras: dict[str, CameraTracks] = {}
        self.waiting: dict[str, dict[int, FaceBatch]] = defaultdict(dict)
        self.next_seq: dict[str, int] = defaultdict(int)
        self.gap_since: dict[str, float] = {}
        self.ends: dict[str, int] = {}
        self.ring_of: dict[str, str] = {}
        self.retired_rings: set[str] = set()
        self.stream_urls: dict[str, str] = dict(ctx.options.get("stream_urls", {}))
        self.replay = bool(ctx.options.get("replay", False))
        self.refresh_gallery(force=True)
        self.meter.mark_ready()

    def refresh_gallery(self, force: bool = False) -> None:
        """Reload the known faces when the store says they changed (checked twice a second)."""
        now = time.monotonic()
        if not force and now - self.gallery_checked < 0.5:
            return
        self.gallery_checked = now
        version = self.store.gallery_version()
        if version == self.gallery_version:
            return
        vectors, names = self.store.gallery()
        self.gallery = Gallery(vectors, names)
        if self.gallery_version >= 0:
            log.info("gallery changed: %d encodings of %d people", len(names), len(set(names)))
            for camera in self.cameras.values():
                camera.forget_names()
        self.gallery_version = version

    # --- ordering -------------------------------------------------------------------------------
    def accept(self, batch: FaceBatch) -> None:
        camera_id = batch.ref.camera_id
        ring = batch.ref.ring
        if ring in self.retired_rings:
            return  # a straggler from before the camera's capture restarted
        if self.ring_of.get(camera_id) != ring:
            if camera_id in self.ring_of:  # the capture restarted: its frames count from 0 again
                self.retired_rings.add(self.ring_of[camera_id])
                self.waiting[camera_id].clear()
                self.next_seq[camera_id] = 0
                self.gap_since.pop(camera_id, None)
            self.ring_of[camera_id] = ring
        if batch.ref.seq < self.next_seq[camera_id]:
            return  # a duplicate after a worker restart
        self.waiting[camera_id][batch.ref.seq] = batch
        self.drain(camera_id)

    def drain(self, camera_id: str) -> None:
        waiting = self.waiting[camera_id]
        while waiting:
            seq = self.next_seq[camera_id]
            batch = waiting.pop(seq, None)
            if batch is None:
                since = self.gap_since.setdefault(camera_id, time.monotonic())
                if time.monotonic() - since < (REPLAY_WAIT_S if self.replay else REORDER_WAIT_S):
                    return
                log.warning("camera %s: frame %d never came; skipping it", camera_id, seq)
                self.next_seq[camera_id] = min(waiting)
                self.gap_since.pop(camera_id, None)
                continue
            self.gap_since.pop(camera_id, None)
            self.next_seq[camera_id] = seq + 1
            self.handle(batch)
        self.check_end(camera_id)

    def check_end(self, camera_id: str) -> None:
        frames = self.ends.get(camera_id)
        if frames is not None and self.next_seq[camera_id] >= frames:
            self.ctx.outbox.put(EndOfStream(camera_id, frames))
            del self.ends[camera_id]

    # --- tracking and events -------------------------------------------------------------------
    def handle(self, batch: FaceBatch) -> None:
        started = time.perf_counter()
        ref = batch.ref
        self.meter.add("frames_in")
        camera = self.cameras.get(ref.camera_id)
        if camera is None:
            camera = self.cameras[ref.camera_id] = CameraTracks(ref.camera_id)
        camera.attach(ref.ring)
        threshold = float(self.config.settings["threshold"])
        tracks = camera.associate([face.box for face in batch.faces], ref.pts)
        fresh: set[int] = set()
        results = []
        for face, track in zip(batch.faces, tracks, strict=True):
            if face.encoding is not None:
                name, distance = self.gallery.identify(face.encoding, threshold)
                area = max(1, (face.box[2] - face.box[0]) * (face.box[1] - face.box[3]))
                track.attempts.append(Attempt(name, distance, float(np.sqrt(area))))
                track.encoded_pts, track.enc_box = ref.pts, face.box
                if name == UNKNOWN and face.crop is not None:
                    track.crop, track.crop_encoding = face.crop, face.encoding
                fresh.add(track.id)
                track.vote(threshold)
                if name == track.name:
                    track.distance = distance
            results.append(FaceResult(face.box, track.name, round(track.distance, 3), track.id))
            self.maybe_announce(camera, track, ref.captured_at, ref.pts)
        camera.publish_hints(fresh)
        now = time.time()
        self.ctx.outbox.put(FrameResult(ref.camera_id, ref.seq, ref.pts, ref.captured_at, results, batch.lost))
        self.meter.add("faces", len(results))
        self.meter.latency(now - ref.captured_at)
        self.meter.frame_done((time.perf_counter() - started) * 1000.0)

    def maybe_announce(self, camera: CameraTracks, track: Track, captured_at: float, pts: float) -> None:
        """One event per person per camera per cooldown; each unknown face is its own person."""
        if not track.decided:
            return
        settings = self.config.settings
        if track.name == UNKNOWN and not settings.get("unknown_events", True):
            return
        key = track.name if track.name != UNKNOWN else f"{UNKNOWN}#{track.id}"
        cooldown = float(settings["event_cooldown_s"])
        last = camera.last_event.get(key)
        if last is not None and pts - last < cooldown:
            return
        camera.last_event[key] = pts
        if len(camera.last_event) > 1000:
            camera.last_event = {k: v for k, v in camera.last_event.items() if pts - v < cooldown}
        distance = float(track.distance)
        top, right, bottom, left = track.box
        result = {
            "timestamp": iso_now(captured_at),
            "name": track.name,
            "confidence": round(1.0 - distance, 2),
            "distance": round(distance, 3),
            "box": {"top": top, "right": right, "bottom": bottom, "left": left},
        }
        stream_url = self.stream_urls.get(camera.camera_id, "")
        event_id = new_event_id()
        self.ctx.outbox.put(Event(event_id, camera.camera_id, stream_url, result, captured_at, time.time()))
        if track.name == UNKNOWN and track.crop is not None and track.crop_encoding is not None:
            self.ctx.outbox.put(UnknownFace(event_id, camera.camera_id, track.crop, track.crop_encoding,
                                            captured_at, track.box))

    def run(self) -> None:
        while not self.stop:
            msg = receive(self.ctx.inbox, self.stop, self.meter, timeout=0.1)
            self.config.poll()
            self.refresh_gallery()
            if isinstance(msg, FaceBatch):
                self.accept(msg)
            elif isinstance(msg, EndOfStream):
                self.ends[msg.camera_id] = msg.frames
                self.drain(msg.camera_id)
                self.check_end(msg.camera_id)
            elif isinstance(msg, CameraUrls):
                self.stream_urls = dict(msg.urls)
            elif isinstance(msg, Stop):
                break
            elif msg is None:
                for camera_id in list(self.waiting):
                    self.drain(camera_id)
        self.meter.publish()


def run(ctx: StageContext) -> None:
    """Process entry point."""
    Matcher(ctx).run()
