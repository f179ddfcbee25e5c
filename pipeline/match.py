"""Match: put each camera's frames back in order, follow faces as tracks, name them, decide events.

Frames arrive from several detect workers out of order; a reorder buffer per camera
(pipeline/recognition/reorder.py) releases them by sequence number. Tracks and their naming vote live in
pipeline/recognition/tracker.py. An event is a person appearing on a camera: one per person per camera per
`event_cooldown_s`, measured in the stream's own time so a replay decides as live would.
"""

from __future__ import annotations

import logging
import time

import numpy as np
from sqlalchemy.exc import DBAPIError

from facegate.db.listen import Listener
from facegate.records import ENCODING_SIZE, UNKNOWN, result_dict
from facegate.store import Store, iso_now, new_event_id
from pipeline.recognition.known_faces import Gallery
from pipeline.recognition.reorder import ReorderBuffer
from pipeline.recognition.result_batcher import ResultBatcher
from pipeline.recognition.tracker import Attempt, CameraTracks, Recheck, Track
from pipeline.recognition.visitor_index import VisitorIndex
from pipeline.runtime.stage_context import ConfigFollower, MatchOptions, StageContext, receive
from pipeline.transport.messages import (
    CameraUrls,
    EndOfStream,
    Event,
    FaceBatch,
    FaceResult,
    FrameRef,
    FrameResult,
    HeldFrames,
    Seen,
    Stop,
    UnknownFace,
)

log = logging.getLogger(__name__)

GALLERY_POLL_S = 0.5  # the fallback check of the gallery's version, NOTIFY or not


class Matcher:
    def __init__(self, ctx: StageContext) -> None:
        assert isinstance(ctx.options, MatchOptions)
        self.ctx = ctx
        self.stop, self.meter = ctx.begin()
        self.config = ConfigFollower(ctx)
        self.store = Store(ctx.data_dir)
        self.gallery_version = -1
        self.gallery = Gallery(np.zeros((0, ENCODING_SIZE)), [])
        self.gallery_checked = 0.0
        self.cameras: dict[str, CameraTracks] = {}
        self.orders: dict[str, ReorderBuffer] = {}
        self.stream_urls: dict[str, str] = dict(ctx.options.stream_urls)
        self.mode = ctx.options.mode
        self.results = ResultBatcher(ctx.outbox.put)
        self._held: set[tuple[str, int]] = set()  # frames of a HeldFrames: they waited in capture by design, no latency
        self.listener = (
            Listener(self.store.url, "facegate_gallery_version").start() if self.store.backend == "postgresql" else None
        )
        self.refresh_gallery(force=True)
        self.visitors = VisitorIndex(self.store)
        self.meter.mark_ready()

    def refresh_gallery(self, force: bool = False) -> None:
        """Reload the known faces when the store says they changed: at once on a NOTIFY from any node
        (PostgreSQL), and by checking the version twice a second as the fallback."""
        now = time.monotonic()
        notified = self.listener is not None and self.listener.changed.is_set()
        if not force and not notified and now - self.gallery_checked < GALLERY_POLL_S:
            return
        self.gallery_checked = now
        if self.listener is not None:
            self.listener.changed.clear()  # before the reload: a NOTIFY during it asks for another
        try:
            self._reload_gallery()
        except DBAPIError as exc:
            log.warning(
                "gallery not checked, the database is unreachable (%s); matching against the last one",
                " ".join(str(exc.orig or exc).split())[:200],
            )

    def refresh_visitors(self) -> None:
        """The kept visitor faces, re-read when they changed; the last ones while the database is away."""
        try:
            self.visitors.refresh()
        except DBAPIError:
            pass  # refresh_gallery says so in the log

    def _reload_gallery(self) -> None:
        version = self.store.gallery.version()
        if version == self.gallery_version:
            return
        vectors, names = self.store.gallery.all_vectors()
        self.gallery = Gallery(vectors, names, self.store.gallery.negatives_by_name())
        if self.gallery_version >= 0:
            log.info("gallery changed: %d encodings of %d people", len(names), len(set(names)))
            for camera in self.cameras.values():
                camera.forget_names(self.recheck())
        self.gallery_version = version
        self.meter.set("gallery_version", version)

    def recheck(self) -> Recheck:
        settings = self.config.settings
        return Recheck(settings.recheck_s, settings.unknown_recheck_s, settings.recheck_max_s)

    # --- ordering -------------------------------------------------------------------------------
    def order(self, camera_id: str) -> ReorderBuffer:
        buffer = self.orders.get(camera_id)
        if buffer is None:
            buffer = self.orders[camera_id] = ReorderBuffer(camera_id, self.mode.reorder_wait_s)
        return buffer

    def accept(self, batch: FaceBatch) -> None:
        self.order(batch.ref.camera_id).add(batch)
        self.drain(batch.ref.camera_id)

    def drain(self, camera_id: str) -> None:
        """Handle the frames that are next in order, then say so once a replayed stream is through."""
        buffer = self.order(camera_id)
        for batch in buffer.ready():
            self.handle(batch)
        frames = buffer.take_end()
        if frames is not None:
            self.results.send()  # every result before the end
            self.ctx.outbox.put(EndOfStream(camera_id, frames))

    def accept_held(self, frames: HeldFrames) -> None:
        """Frames capture kept off detection and held (pipeline/gating/held_frames.py), each taken in its place."""
        self._held = {(ref.camera_id, ref.seq) for ref in frames.refs}
        try:
            for ref in frames.refs:
                self.accept(FaceBatch(ref, [], worker=0))
        finally:
            self._held = set()

    # --- tracking and events -------------------------------------------------------------------
    def handle(self, batch: FaceBatch) -> None:
        started = time.perf_counter()
        ref = batch.ref
        self.meter.add("frames_in")
        camera = self.cameras.get(ref.camera_id)
        if camera is None:
            camera = self.cameras[ref.camera_id] = CameraTracks(ref.camera_id)
            self.carry_cooldown(camera)
        camera.attach(ref.ring)
        if ref.detect is None:
            self.carry(camera, ref, started)
            return
        threshold = self.config.settings.threshold
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
                track.last_crop, track.last_encoding = face.crop, face.encoding
                fresh.add(track.id)
                track.vote(threshold)
                if name == track.name:
                    track.distance = distance
            results.append(FaceResult(face.box, track.name, round(track.distance, 3), track.id))
            self.maybe_announce(camera, track, ref.captured_at, ref.pts)
            self.report_seen(camera, track, ref.captured_at)
        camera.publish_hints(fresh, self.recheck())
        self.finish(ref, results, started, lost=batch.lost)

    def carry_cooldown(self, camera: CameraTracks) -> None:
        """A camera new to this match (taken over from another node, or match restarted): the people it
        announced within the cooldown stay announced, so a move makes no duplicate event."""
        if not self.mode.cooldown_is_wall_time:
            return
        since = time.time() - self.config.settings.event_cooldown_s
        try:
            recent = self.store.results.last_events(camera.camera_id, since)
        except DBAPIError:
            log.warning("cooldown of %s not carried over: the database is unreachable", camera.camera_id)
            return
        for name, written_at in recent.items():
            if name != UNKNOWN:
                camera.last_event[name] = written_at
        if recent:
            log.info("camera %s: cooldown carried over for %s", camera.camera_id, ", ".join(sorted(recent)))

    def carry(self, camera: CameraTracks, ref: FrameRef, started: float) -> None:
        """A frame capture kept off detection: its faces are the tracks' boxes carried from the last detected
        frame, with their names; no encoding, no event (nothing new was seen)."""
        results = [
            FaceResult(box, track.name, round(track.distance, 3), track.id)
            for track, box in camera.carried(ref.pts, ref.shape[0], ref.shape[1])
        ]
        self.finish(ref, results, started, detected=False)

    def finish(
        self, ref: FrameRef, results: list[FaceResult], started: float, *, lost: bool = False, detected: bool = True
    ) -> None:
        now = time.time()
        result = FrameResult(ref.camera_id, ref.seq, ref.pts, ref.captured_at, results, lost, detected)
        self.results.add(result, time.monotonic())
        self.meter.add("faces", len(results))
        if (ref.camera_id, ref.seq) not in self._held:
            self.meter.latency(now - ref.captured_at)
        self.meter.frame_done((time.perf_counter() - started) * 1000.0)

    def report_seen(self, camera: CameraTracks, track: Track, captured_at: float, *, event: bool = False) -> None:
        """Tell the emitter a named track or a visitor is in view, for presence: with each event, and between
        events at most every few seconds per subject per camera (pipeline/recognition/sighting_reports.py)."""
        if not track.decided:
            return
        name = track.name if track.name != UNKNOWN else None
        visitor_id = track.visitor_id if name is None else None
        if name is None and visitor_id is None:
            return
        window_s = self.config.settings.presence_window_s
        key = name if name is not None else f"visitor#{visitor_id}"
        if camera.reports.due(key, captured_at, window_s) or event:
            self.ctx.outbox.put(Seen(camera.camera_id, captured_at, window_s, name, visitor_id))

    def maybe_announce(self, camera: CameraTracks, track: Track, captured_at: float, pts: float) -> None:
        """One event per person per camera per cooldown; each unknown face is its own person."""
        if not track.decided:
            return
        settings = self.config.settings
        if track.name == UNKNOWN and not settings.unknown_events:
            return
        if track.name == UNKNOWN and track.visitor_id is None and track.crop_encoding is not None:
            track.visitor_id, _ = self.visitors.assign(track.crop_encoding, settings.visitor_threshold, captured_at)
        if track.name != UNKNOWN:
            key = track.name
        elif track.visitor_id is not None:
            key = f"visitor#{track.visitor_id}"  # one stranger lingering is one event per camera, not one per track
        else:
            key = f"{UNKNOWN}#{track.id}"
        cooldown = settings.event_cooldown_s
        last = camera.last_event.get(key)
        if last is not None and pts - last < cooldown:
            return
        camera.last_event[key] = pts
        if len(camera.last_event) > 1000:
            camera.last_event = {k: v for k, v in camera.last_event.items() if pts - v < cooldown}
        result = result_dict(iso_now(captured_at), track.name, track.distance, track.box)
        visitor_id = track.visitor_id if track.name == UNKNOWN else None
        if visitor_id is not None:
            result["visitor_id"] = visitor_id
        stream_url = self.stream_urls.get(camera.camera_id, "")
        event_id = new_event_id()
        self.ctx.outbox.put(
            Event(
                event_id,
                camera.camera_id,
                stream_url,
                result,
                captured_at,
                time.time(),
                track.last_encoding,
                track.last_crop,
                visitor_id,
            )
        )
        if track.name == UNKNOWN and track.crop is not None and track.crop_encoding is not None:
            self.ctx.outbox.put(
                UnknownFace(event_id, camera.camera_id, track.crop, track.crop_encoding, captured_at, track.box)
            )
        self.report_seen(camera, track, captured_at, event=True)

    def run(self) -> None:
        while not self.stop:
            msg = receive(self.ctx.inbox, self.stop, self.meter, timeout=self.results.wait_s(time.monotonic(), 0.1))
            self.config.poll()
            self.refresh_gallery()
            self.refresh_visitors()
            if isinstance(msg, FaceBatch):
                self.accept(msg)
            elif isinstance(msg, FrameRef):  # not detected: it takes its place in order with the detected ones
                self.accept(FaceBatch(msg, [], worker=0))
            elif isinstance(msg, HeldFrames):
                self.accept_held(msg)
            elif isinstance(msg, EndOfStream):
                self.order(msg.camera_id).end = msg.frames
                self.drain(msg.camera_id)
            elif isinstance(msg, CameraUrls):
                self.stream_urls = dict(msg.urls)
                for gone in set(self.cameras) - set(self.stream_urls):  # back later: its cooldown is read anew
                    del self.cameras[gone]
            elif isinstance(msg, Stop):
                break
            elif msg is None:
                for camera_id in list(self.orders):
                    self.drain(camera_id)
            self.results.send_due(time.monotonic())
        self.results.send()
        if self.listener is not None:
            self.listener.stop()
        self.meter.publish()


def run(ctx: StageContext) -> None:
    """Process entry point."""
    Matcher(ctx).run()
