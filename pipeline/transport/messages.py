"""What travels on the pipeline's queues: small records, never pixels.

Where each type goes is the hub's routing table (pipeline/supervision/hub.py); a new message type is added
here and routed there.

Pixels stay in the shared-memory ring; a FrameRef names the slot they are in.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

from facegate.records import Box, Result


class Reason(enum.Enum):
    """Why a frame was sent to detection (pipeline/gating/rate_gate.py decides; the trace records it)."""

    EVERY = "every"  # detect_fps 0: every frame, no gate
    FIRST = "first"
    MOTION = "motion"
    TRACK_DUE = "track"


@dataclass(frozen=True, slots=True)
class FrameRef:
    """A frame waiting in a ring slot."""

    camera_id: str
    ring: str
    slot: int
    seq: int
    pts: float  # seconds of media time: frame index / fps for a replay, wall clock for live streams
    captured_at: float  # wall clock when the frame came in (pipeline/capture.py ReadClock)
    shape: tuple[int, int, int]
    detect: Reason | None = Reason.EVERY  # why it goes to detection; None: straight to match, faces carried


@dataclass(frozen=True, slots=True)
class HeldFrames:
    """Live frames of one camera that go to no detection, in order, sent as one message
    (pipeline/gating/held_frames.py)."""

    camera_id: str
    refs: list[FrameRef]


@dataclass(slots=True)
class Face:
    box: Box
    encoding: np.ndarray | None = None  # None when the track's earlier encoding still stands
    crop: bytes | None = None  # a small JPEG of the face, sent with each encoding (for unknown faces)


@dataclass(slots=True)
class FaceBatch:
    """Detect's answer for one frame."""

    ref: FrameRef
    faces: list[Face]
    worker: int
    detect_ms: float = 0.0
    lost: bool = False  # the pixels were gone (slot reused after a crash): the frame is skipped


@dataclass(slots=True)
class FaceResult:
    box: Box
    name: str
    distance: float
    track_id: int


@dataclass(slots=True)
class FrameResult:
    """Every face of one frame with the name its track carries: for traces, snapshots and stats."""

    camera_id: str
    seq: int
    pts: float
    captured_at: float
    faces: list[FaceResult]
    lost: bool = False
    detected: bool = True  # False: not sent to detection, the faces are the tracks' carried boxes


@dataclass(slots=True)
class ResultBatch:
    """Match's results of the frames it finished in the last few tens of milliseconds, of any cameras, each
    camera's in order (pipeline/recognition/result_batcher.py)."""

    results: list[FrameResult]


@dataclass(slots=True)
class Event:
    """A sighting worth telling the web app about: a person appeared on a camera."""

    event_id: str
    camera_id: str
    stream_url: str
    result: Result
    captured_at: float
    decided_at: float
    encoding: np.ndarray | None = None  # the face's latest encoding, kept with the result (search, reject)
    crop: bytes | None = None  # its JPEG crop
    visitor_id: int | None = None  # the visitor an unknown face belongs to


@dataclass(frozen=True, slots=True)
class Seen:
    """A person or visitor in view on a camera (with an event or while the cooldown holds events back),
    at most one per subject per camera every few seconds: what presence and attendance are made of."""

    camera_id: str
    at: float  # wall clock of the frame
    window_s: float  # presence_window_s as the match stage had it
    name: str | None = None  # a person's name, or None for a visitor
    visitor_id: int | None = None


@dataclass(frozen=True, slots=True)
class EndOfStream:
    """A replayed file is exhausted after `frames` frames."""

    camera_id: str
    frames: int


@dataclass(frozen=True, slots=True)
class ReplayDone:
    camera_id: str
    frames: int
    finished_at: float = 0.0  # time.monotonic() when the last frame reached emit, before webhooks drain


@dataclass(frozen=True, slots=True)
class RingRequest:
    """Capture learned its frame size and asks the supervisor for a ring of slots that fit it."""

    camera_id: str
    height: int
    width: int


@dataclass(frozen=True, slots=True)
class RingReady:
    camera_id: str
    name: str
    slots: int
    shape: tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class CameraStatus:
    camera_id: str
    state: str  # connecting, live, reconnecting, failed, ended
    error: str | None = None
    width: int = 0
    height: int = 0
    fps: float = 0.0


@dataclass(frozen=True, slots=True)
class UnknownFace:
    """A crop of a face no one in the gallery matches, kept so an operator can register them."""

    event_id: str
    camera_id: str
    jpeg: bytes
    encoding: np.ndarray
    captured_at: float
    box: Box


@dataclass(frozen=True, slots=True)
class CameraUrls:
    """The stream URL of each camera, which events carry as `camera_stream_url`."""

    urls: dict[str, str]


@dataclass(frozen=True, slots=True)
class Stop:
    """Ask a stage to finish what it holds and exit."""


# Everything a stage's inbox or outbox carries; a receiver tells them apart with isinstance.
Message = (
    FrameRef
    | HeldFrames
    | FaceBatch
    | ResultBatch
    | Event
    | Seen
    | EndOfStream
    | ReplayDone
    | RingRequest
    | RingReady
    | CameraStatus
    | UnknownFace
    | CameraUrls
    | Stop
)
