"""Tracking: following faces across the frames of a camera, and naming each track by a vote.

A face belongs to the track its box overlaps most (greedy, by intersection over union); a track
unseen for `TRACK_TTL_S` has left. A track's name is a vote over its recent encodings, weighted
by face size and by how far inside the threshold each distance is, so one bad angle does not
rename a person. The tracks are published to detect through the hint table (pipeline/transport/track_hints.py).
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, field

import numpy as np

from facegate.records import UNKNOWN, Box
from pipeline.gating.rate_gate import BoxTrack, carry_box, observe
from pipeline.recognition.sighting_reports import SightingReports
from pipeline.transport.frame_ring import FrameRing
from pipeline.transport.track_hints import HINT_ROWS, MATCH_IOU, iou

TRACK_TTL_S = 1.0  # a track unseen for this long has left
MAX_ATTEMPTS = 12  # encodings remembered per track for the vote
UNKNOWN_MIN_ATTEMPTS = 2  # attempts before an unnamed face counts as an Unknown person


@dataclass(frozen=True)
class Recheck:
    """How often, in stream seconds, a track's face is encoded again (the `recheck_s`, `unknown_recheck_s` and
    `recheck_max_s` settings). A track still being decided is re-checked every `unknown_s`. A named track is
    re-checked `named_s` after it was named, and each re-check that names the same person again doubles the
    wait, up to `max_s`; one that does not starts it over. A track decided Unknown (two attempts that named no
    one) waits `named_s` too, doubling with each further attempt that names no one. A person or a stranger
    standing in view costs one encoding every `max_s`, not one a second; a face that moves well away from
    where it was last encoded is encoded again at once (pipeline/transport/track_hints.py)."""

    named_s: float = 1.0
    unknown_s: float = 0.2
    max_s: float = 8.0

    @property
    def ceiling(self) -> float:
        return max(self.max_s, self.named_s)


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
    last_crop: bytes | None = None  # the latest crop and encoding of any attempt: what a result keeps
    last_encoding: np.ndarray | None = None
    visitor_id: int | None = None  # the visitor an unknown track belongs to, once decided
    motion: BoxTrack | None = None  # its detected boxes, to carry it to the frames not detected

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

    def recheck_interval(self, recheck: Recheck) -> float:
        """Stream seconds from this track's last encoding to its next (see `Recheck`)."""
        if self.name != UNKNOWN:
            return min(recheck.ceiling, recheck.named_s * 2.0 ** max(self.agreeing() - 1, 0))
        beyond = len(self.attempts) - UNKNOWN_MIN_ATTEMPTS
        if beyond < 0:
            return recheck.unknown_s
        return min(recheck.ceiling, max(recheck.unknown_s, recheck.named_s) * 2.0**beyond)

    def agreeing(self) -> int:
        """How many of the latest attempts in a row named the track's person."""
        count = 0
        for attempt in reversed(self.attempts):
            if attempt.name != self.name:
                break
            count += 1
        return count


class CameraTracks:
    """The tracks of one camera and the event memory that goes with them."""

    def __init__(self, camera_id: str) -> None:
        self.camera_id = camera_id
        self.tracks: list[Track] = []
        self.next_id = 1
        self.last_event: dict[str, float] = {}
        self.reports = SightingReports()  # who was last reported for presence, and when
        self.ring: FrameRing | None = None
        self.detected_pts: float | None = None  # the last frame that went through detection

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
        pairs = sorted(
            ((iou(box, t.box), i, j) for i, box in enumerate(boxes) for j, t in enumerate(self.tracks)), reverse=True
        )
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
            track.motion = observe(track.motion, box, pts)
            result.append(track)
        self.detected_pts = pts
        return result

    def carried(self, pts: float, height: int, width: int) -> list[tuple[Track, Box]]:
        """The faces of a frame that was not detected: each track seen on the last detected frame, with its box
        carried to `pts` (see pipeline/detect_rate.carry_box); nothing before the first detection."""
        if self.detected_pts is None:
            return []
        return [
            (track, carry_box(track.motion, pts, frame_height=height, frame_width=width))
            for track in self.tracks
            if track.last_pts == self.detected_pts and track.motion is not None
        ]

    def _retire(self, track: Track) -> bool:
        if self.ring is not None and track.hint_row >= 0:
            self.ring.hints.retire(track.hint_row)
        return False

    def publish_hints(self, fresh: set[int], recheck: Recheck) -> None:
        """Each track's row of the hint table: its box, its last encoding and when the next one is due."""
        if self.ring is None:
            return
        for track in self.tracks:
            if track.hint_row >= 0:
                self.ring.hints.publish(
                    track.hint_row,
                    track.id,
                    track.box,
                    track.recheck_interval(recheck),
                    track.encoded_pts,
                    track.enc_box,
                    track.id in fresh,
                )

    def forget_names(self, recheck: Recheck) -> None:
        """After a gallery change every track is judged again, so a deleted person stops being named."""
        for track in self.tracks:
            track.attempts.clear()
            track.name, track.encoded_pts = UNKNOWN, -1e18
        self.publish_hints(set(), recheck)
