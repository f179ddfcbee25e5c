"""Capture: one process per camera decodes frames straight into free slots of its ring.

Live streams are never allowed to back up: when all but `SPARE_SLOTS` of a camera's ring slots hold frames
waiting for detection, a frame chosen for it goes on undetected instead (counted as shed: match carries its
tracks' boxes to it), and when every slot is still busy the new frame is dropped and counted; the camera
keeps being read. A replay instead waits for a free slot so every frame
of the file is processed (see pipeline/runtime/run_mode.py). A stream that fails, stalls or ends is reopened
with backoff (`Link` keeps the state and the backoff); a file in live mode plays at its own frame
rate and loops. Live, a scene that stayed quiet is read in groups and only each group's newest frame goes on
(the others are decoded and passed over: pipeline/gating/frame_gate.py).
"""

from __future__ import annotations

import logging
import os
import queue
import time
from pathlib import Path

import cv2
import numpy as np

from facegate import camera_source
from pipeline.gating.frame_gate import FrameGate
from pipeline.gating.held_frames import FrameHolder
from pipeline.runtime.stage_context import CaptureOptions, ConfigFollower, StageContext
from pipeline.transport.frame_ring import FrameRing
from pipeline.transport.messages import CameraStatus, EndOfStream, FrameRef, RingReady, RingRequest, Stop
from pipeline.transport.rtsp_probe import open_failure

log = logging.getLogger(__name__)

BACKOFF_START_S = 1.0
BACKOFF_MAX_S = 30.0
OPEN_TIMEOUT_MS = 10_000
READ_TIMEOUT_MS = 5_000
SPARE_SLOTS = 4  # ring slots kept for frames that do not wait for detection; past the rest, detections are shed
# FFmpeg's decoding threads per camera. OpenCV's default is one a core, which for H.264 means frame
# threading: each frame handed between threads, a wake-up each, and a frame of delay. With one camera a
# process, the cameras already spread over every core; one thread decodes the clip paced as live in groups
# of 3 for 1.15 ms of CPU a frame instead of 1.26 (`python -m bench.decode_paced`).
DECODER_THREADS = 1
OPERATOR_FFMPEG_OPTIONS = os.environ.get(camera_source.FFMPEG_OPTIONS_ENV) or None  # as the service was started


def awaiting_limit(slots: int) -> int:
    """How many of a camera's frames may wait for (or be in) detection before the next one chosen for it goes on
    undetected: 6 of the 10 slots on 2 cores, 1.2 s of backlog at detect_fps 5."""
    return max(1, slots - SPARE_SLOTS)


def is_file_source(url: str) -> bool:
    try:
        return camera_source.parse(url).kind == "file"
    except ValueError:
        return False  # refused: opening it fails and says why


def ffmpeg_options(url: str, rtsp_transport: str) -> str:
    """FFmpeg's options for `url` as OpenCV reads them (OPENCV_FFMPEG_CAPTURE_OPTIONS): an RTSP camera's
    transport (OpenCV's own TCP default is gone as soon as any option is given), the operator's, and last
    the protocol whitelist of the source's scheme (facegate/camera_source.py), which nothing widens."""
    return camera_source.parse(url).ffmpeg_options(rtsp_transport, OPERATOR_FFMPEG_OPTIONS)


def open_source(url: str, rtsp_transport: str = "tcp") -> cv2.VideoCapture:
    """OpenCV capture for a device index, a file or a network URL (facegate/camera_source.py), with timeouts
    so stalls surface, and FFmpeg held to the protocols the source's scheme needs."""
    source = camera_source.parse(url)
    if source.kind == "device":
        return cv2.VideoCapture(int(source.target))
    if source.kind == "file" and not Path(source.target).is_file():
        raise FileNotFoundError(f"{source.target}: no such file")
    target = str(Path(source.target).absolute()) if source.kind == "file" else source.target
    # read by OpenCV at each open; one camera per capture process
    os.environ[camera_source.FFMPEG_OPTIONS_ENV] = ffmpeg_options(url, rtsp_transport)
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, OPEN_TIMEOUT_MS, cv2.CAP_PROP_READ_TIMEOUT_MSEC, READ_TIMEOUT_MS]
    params += [cv2.CAP_PROP_N_THREADS, DECODER_THREADS]
    return cv2.VideoCapture(target, cv2.CAP_FFMPEG, params)


class Link:
    """A camera's connection state and reconnect backoff, apart from any I/O.

    States: `connecting` (never live yet), `live`, `reconnecting` (was live, lost it; shows the
    last error), `failed` (never got a frame yet; shows the last error; still retrying), and
    `ended` (a replayed file ran out). The wait before the next attempt doubles from 1 s up to
    30 s, and starts over after an attempt that stayed live for longer than that.
    """

    def __init__(self) -> None:
        self.state = ""
        self.ever_live = False
        self.backoff_s = BACKOFF_START_S
        self.last_error: str | None = None

    def enter(self, state: str) -> bool:
        """Take the new state; True if it changed."""
        changed, self.state = state != self.state, state
        if state == "live":
            self.ever_live = True
        return changed

    def opening(self) -> str:
        """The state to show while (re)opening the source."""
        return "reconnecting" if self.ever_live else "connecting"

    def attempt_failed(self, why: str, attempt_s: float) -> tuple[str, float]:
        """After an attempt that lasted `attempt_s` seconds: the state to show and the seconds to wait."""
        if self.state == "live" and attempt_s > BACKOFF_MAX_S:
            self.backoff_s = BACKOFF_START_S  # it was fine for a while: start the backoff over
        self.last_error = why
        wait, self.backoff_s = self.backoff_s, min(self.backoff_s * 2, BACKOFF_MAX_S)
        return ("reconnecting" if self.ever_live else "failed"), wait


class ReadClock:
    """When each frame read came in (wall seconds). Frames read in a group (pipeline/gating/frame_gate.py) are
    decoded back to back once the newest is due; each older one came a frame period before the next, so it is
    dated then and is carried as the frame it was, not detected as if it were the newest. Always later than
    the frame before it: a stream's time does not go backwards or stand still."""

    def __init__(self) -> None:
        self.last = 0.0

    def due(self, newer: int, fps: float, now: float) -> float:
        """The time of a frame read at `now` with `newer` frames of its group still to read after it, at `fps`."""
        self.last = max(now - newer / fps, self.last + 1e-6)
        return self.last


class Camera:
    """The capture loop of one camera; `run()` returns when stopped or when a replayed file ends."""

    def __init__(self, ctx: StageContext) -> None:
        assert isinstance(ctx.options, CaptureOptions)
        self.ctx = ctx
        self.stop, self.meter = ctx.begin()
        self.camera_id = ctx.options.camera_id
        self.url = ctx.options.stream_url
        self.mode = ctx.options.mode
        self.is_file = is_file_source(self.url)
        self.ring: FrameRing | None = None
        self.seq = 0
        self.next_slot = 0
        self.link = Link()
        self.config = ConfigFollower(ctx)
        self.gate = FrameGate(self.camera_id, self.config.settings)
        self.holder = FrameHolder(self.camera_id) if self.mode.holds_undetected_frames else None
        self.clock = ReadClock()

    # --- talking to the supervisor -------------------------------------------------------------
    def report(self, state: str, error: str | None = None, shape: tuple[int, ...] = (0, 0), fps: float = 0.0) -> None:
        if self.link.enter(state):
            level = logging.WARNING if error else logging.INFO
            log.log(level, "camera %s %s%s", self.camera_id, state, f": {error}" if error else "")
        self.ctx.outbox.put(
            CameraStatus(self.camera_id, state, error, int(shape[1]) if len(shape) > 1 else 0, int(shape[0]), fps)
        )

    def request_ring(self, shape: tuple[int, int, int]) -> FrameRing | None:
        """Ask the supervisor (the segment's owner) for a ring sized to this stream, and attach to it."""
        self.ctx.outbox.put(RingRequest(self.camera_id, shape[0], shape[1]))
        deadline = time.monotonic() + 15.0
        while not self.stop and time.monotonic() < deadline:
            try:
                msg = self.ctx.inbox.get(timeout=0.25)
            except queue.Empty:
                self.meter.beat()
                continue
            if isinstance(msg, Stop):
                self.stop.set()
            elif isinstance(msg, RingReady) and msg.shape == shape:
                if self.ring is not None:
                    self.ring.close()
                return FrameRing.attach(msg.name)
        return None

    def check_inbox(self) -> None:
        try:
            while True:
                if isinstance(self.ctx.inbox.get_nowait(), Stop):
                    self.stop.set()
        except queue.Empty:
            return

    def rest(self, seconds: float) -> bool:
        """Wait out a reconnect backoff (up to 30 s) while still beating; True if told to stop.

        The supervisor kills a stage whose heartbeat is older than 30 s, so a silent wait would get a
        camera that is merely retrying killed and restarted as if it had hung.
        """
        deadline = time.monotonic() + seconds
        while not self.stop:
            self.meter.beat()
            self.check_inbox()
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.stop.wait(min(1.0, left))
        return True

    # --- frames ---------------------------------------------------------------------------------
    def free_slot(self) -> int | None:
        """A slot to decode into; a replay waits for one, a live stream does not."""
        assert self.ring is not None
        while not self.stop:
            slot = self.ring.claim_free(self.next_slot)
            if slot is not None or not self.mode.waits_for_slots:
                return slot
            time.sleep(0.001)
            self.meter.beat()
        return None

    def publish(self, slot: int, pts: float, captured_at: float) -> None:
        """Hand the frame on: to detection when the gate says so, else held for match (which carries the
        tracks' boxes to it, pipeline/gating/held_frames.py) with its slot freed at once; its pixels stay
        readable for snapshots until reused."""
        assert self.ring is not None
        self.ring.publish(slot, self.seq, pts, captured_at)
        reason = self.gate.decide(self.ring.frame(slot), pts, self.ring.hints)
        if reason is not None and self.mode.sheds_detections and self.ring.busy() > awaiting_limit(self.ring.slots):
            # Detection is backed up: this frame goes on with its tracks' boxes carried. The frames after it keep
            # slots to land in, instead of every frame being dropped until detection catches up.
            reason = None
            self.meter.add("shed")
        if reason is None:
            self.ring.release(slot, self.seq)
        ref = FrameRef(self.camera_id, self.ring.name, slot, self.seq, pts, captured_at, self.ring.shape, reason)
        if self.holder is not None and reason is None:
            batch = self.holder.add(ref, captured_at, quiet=self.gate.passing_over)
            if batch is not None:
                self.ctx.outbox.put(batch)
        else:
            self.send_held()  # the held frames go first: a camera's frames stay in order
            self.ctx.outbox.put(ref)
        self.seq += 1
        self.next_slot = (slot + 1) % self.ring.slots

    def send_held(self) -> None:
        """Send the frames held so far, if any."""
        batch = self.holder.take() if self.holder is not None else None
        if batch is not None:
            self.ctx.outbox.put(batch)

    def stream(self, cap: cv2.VideoCapture, *, looped: bool = False) -> str:
        """Read until the source ends or fails; returns why it stopped ("ended", "stopped", or an error).

        `looped`: a file in live mode starting over. It lost nothing, so the gate goes on as it was: the jump
        back is detected when it shows (motion), not as a new stream (a still 10 s file was detected at
        every loop, a tenth of a detection a second no live camera makes)."""
        fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
        fps = fps if 1.0 <= fps <= 240.0 else 25.0
        ok, first = cap.read()
        if not ok or first is None:
            return "no frame could be read"
        shape = (int(first.shape[0]), int(first.shape[1]), int(first.shape[2]) if first.ndim == 3 else 3)
        if self.ring is None or self.ring.shape != shape:
            self.ring = self.request_ring(shape)
            if self.ring is None:
                return "stopped" if self.stop else "no ring from the supervisor"
        self.report("live", None, shape, fps)
        if not looped:
            self.gate.restart()
        started = time.monotonic()
        pending: np.ndarray | None = first
        scratch = np.empty(shape, dtype=np.uint8)
        frame_index = 0
        newer = 0  # frames of the current group still to read after this one (pipeline/gating/frame_gate.py)
        while not self.stop:
            if frame_index % 30 == 0:
                self.check_inbox()
            if self.config.poll():
                self.gate.configure(self.config.settings)
            if newer > 0:
                newer -= 1
            elif self.mode.paced:  # the first of a group: wait until its last frame is due
                newer = (self.gate.group_size(fps) if self.mode.reads_in_groups else 1) - 1
                delay = started + (frame_index + newer) / fps - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            if pending is None and self.gate.passed_over(newer):
                if not cap.grab():  # decoded, as the frames after it need, and not converted or sent on
                    return "ended" if self.is_file else "stream stalled or closed"
                self.meter.add("frames_in")
                frame_index += 1
                continue
            slot = self.free_slot()
            if self.stop:
                return "stopped"
            target = self.ring.frame(slot) if slot is not None else scratch
            if slot is not None:
                self.ring.begin_write(slot)
            if pending is not None:
                target[...] = pending if pending.ndim == 3 else cv2.cvtColor(pending, cv2.COLOR_GRAY2BGR)
                pending, ok = None, True
            else:
                ok, image = cap.read(image=target)
                if ok and image.ctypes.data != target.ctypes.data:  # ok: OpenCV returned a frame
                    if image.shape != target.shape:
                        if slot is not None:
                            self.ring.abandon_write(slot)
                        return f"frame size changed to {image.shape[1]}x{image.shape[0]}"
                    target[...] = image
            if not ok:
                if slot is not None:
                    self.ring.abandon_write(slot)
                return "ended" if self.is_file else "stream stalled or closed"
            captured_at = self.clock.due(newer, fps, time.time())
            self.meter.add("frames_in")
            pts = self.mode.pts(is_file=self.is_file, frame_index=frame_index, fps=fps, captured_at=captured_at)
            frame_index += 1
            if slot is None:
                self.meter.add("drops")
            else:
                self.publish(slot, pts, captured_at)
                self.meter.frame_done(0.0)
        return "stopped"

    def run(self) -> int:
        """Open, stream, and on any failure retry with backoff (see `Link`) until stopped."""
        looping = False
        while not self.stop:
            if not looping:  # a file in live mode that starts over has not lost anything
                self.report(self.link.opening(), self.link.last_error)
            looped, looping = looping, False
            attempt_started = time.monotonic()
            try:
                cap = open_source(self.url)
                opened = cap.isOpened()
            except (OSError, ValueError, cv2.error) as exc:  # a missing file, a refused source
                cap, opened, why = None, False, str(exc)
            else:
                why = open_failure(self.url) if not opened else ""
            if cap is not None and opened:
                why = self.stream(cap, looped=looped)
                self.send_held()
            if cap is not None:
                cap.release()
            if why == "stopped" or self.stop:
                break
            if why == "ended" and self.mode.ends_with_file:
                self.ctx.outbox.put(EndOfStream(self.camera_id, self.seq))
                self.report("ended")
                log.info("camera %s: end of file after %d frames", self.camera_id, self.seq)
                return 0
            if why == "ended":
                looping = True
                continue  # a file in live mode loops
            if self.mode.ends_with_file:
                self.report("failed", why)
                return 3
            state, wait = self.link.attempt_failed(why, time.monotonic() - attempt_started)
            self.report(state, why)
            if self.rest(wait):
                break
        self.meter.publish()
        return 0

    def close(self) -> None:
        if self.ring is not None:
            self.ring.close()


def run(ctx: StageContext) -> None:
    """Process entry point."""
    camera = Camera(ctx)
    code = 0
    try:
        code = camera.run()
    finally:
        camera.close()
    raise SystemExit(code)


def stage_name(camera_id: str) -> str:
    """The capture stage of a camera, as processes and stats rows are named."""
    return f"capture {camera_id}"
